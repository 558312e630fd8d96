"""Sending a batch of notifications, in three steps, so no transaction or row lock is held while
mail servers and webhooks are talked to:

1. claim (short transaction): the batch's rows that are due (pending, or sending with an
   expired claim) are locked with ``SELECT ... FOR UPDATE SKIP LOCKED`` and moved to
   ``sending`` by a compare-and-set ``UPDATE`` that re-checks they are due (so two workers
   cannot both claim a row, even on SQLite where FOR UPDATE is a no-op) and stamps a claim token;
2. send: the content of each event is read once (public data only), each email goes through
   Django's email backend on one connection for the whole batch, webhook and Slack
   subscribers through the signed webhook client;
3. record: sent rows become ``sent``, failures wait with a fourfold backoff and fail for good
   after ``MAX_ATTEMPTS``, rows whose item is no longer public become ``skipped``.

A worker that dies mid-batch leaves its rows ``sending``; once the claim expired the sweeper
hands them to another worker (a mail accepted just before the crash may then go out twice:
SMTP has no way to ask whether it was).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
import uuid
from collections import defaultdict
from typing import Any

from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from checkstack.automation import http, queueing
from checkstack.automation.signing import webhook_headers
from checkstack.automation.webhooks.policy import classify
from checkstack.entities.conf import app_settings as entity_settings
from statuspage.models import Notification

from .choices import Channel, NotificationStatus
from .conf import app_settings
from .content import Content, content_for
from .fanout import SEND_TASK, batches
from .mail import build_message

logger = logging.getLogger("statuspage.subscribers")

Status = NotificationStatus
MAX_ERROR = 2000
SKIPPED_MESSAGE = "Not sent: the item is no longer public (or was deleted)"


class Permanent(str):
    """An error no retry can fix (a refused URL, a 4xx answer)."""


def retry_delay(attempts: int) -> dt.timedelta:
    """``RETRY_BASE * 4**(attempts-1)`` seconds, ±20 % jitter."""
    base = app_settings.RETRY_BASE * (4 ** max(0, attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def _due(now: dt.datetime) -> Q:
    return Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.SENDING, claimed_until__lte=now
    )


def claim(ids: list[int]) -> tuple[str, list[Notification]]:
    """Claim the due rows among ``ids``: ``(claim token, rows with their subscribers)``."""
    token = uuid.uuid4().hex
    now = timezone.now()
    with transaction.atomic():
        locked = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(_due(now), pk__in=ids)
            .values_list("pk", flat=True)
        )
        if not locked:
            return token, []
        Notification.objects.filter(_due(now), pk__in=locked).update(
            status=Status.SENDING,
            attempts=F("attempts") + 1,
            claimed_until=now + dt.timedelta(seconds=app_settings.CLAIM_SECONDS),
            claim_token=token,
        )
    claimed = Notification.objects.filter(pk__in=locked, claim_token=token, status=Status.SENDING)
    return token, list(claimed.select_related("subscriber").order_by("id"))


Result = str | None  # None: sent; SKIPPED_MESSAGE: skipped; any other text: the error


def _contents(rows: list[Notification]) -> dict[str, Content | None]:
    contents: dict[str, Content | None] = {}
    for row in rows:
        if row.event_key not in contents:
            contents[row.event_key] = content_for(row)
    return contents


def _send_emails(
    rows: list[Notification], contents: dict[str, Content | None]
) -> dict[int, Result]:
    results: dict[int, Result] = {}
    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:  # the mail server is down: every row waits for a retry
        return {row.pk: f"Could not connect to the mail server: {exc}" for row in rows}
    try:
        for row in rows:
            content = contents[row.event_key]
            if content is None:
                results[row.pk] = SKIPPED_MESSAGE
                continue
            message = build_message(
                row.subscriber, "notification", content.subject, content.context
            )
            message.connection = connection
            try:
                message.send()
                results[row.pk] = None
            except Exception as exc:
                results[row.pk] = f"{type(exc).__name__}: {exc}"
                # A broken session: each later message of the batch opens its own.
                connection.close()
    finally:
        connection.close()
    return results


def _post(row: Notification, content: Content) -> Result:
    subscriber = row.subscriber
    if subscriber.channel == Channel.SLACK:
        payload: dict[str, Any] = {"text": content.text}
    else:
        payload = content.as_json()
    body = json.dumps(payload, separators=(",", ":")).encode()
    message_id = f"msg_notification_{row.pk}"
    headers = webhook_headers(subscriber.secret or None, message_id, int(time.time()), body)
    result = http.post(subscriber.url or "", body, headers)
    success, retryable = classify(result)
    if success:
        return None
    error = f"HTTP {result.status_code}" if result.status_code is not None else result.error
    return error if retryable else Permanent(error)


def send_rows(rows: list[Notification]) -> dict[int, Result]:
    contents = _contents(rows)
    emails = [r for r in rows if r.subscriber.channel == Channel.EMAIL]
    results = _send_emails(emails, contents) if emails else {}
    for row in rows:
        if row.subscriber.channel == Channel.EMAIL:
            continue
        content = contents[row.event_key]
        results[row.pk] = SKIPPED_MESSAGE if content is None else _post(row, content)
    return results


def record(token: str, rows: list[Notification], results: dict[int, Result]) -> dict[str, int]:
    """Store each row's outcome (only rows this claim still holds); counts by status."""
    now = timezone.now()
    held = Notification.objects.filter(claim_token=token, status=Status.SENDING)
    released: dict[str, Any] = {"claimed_until": None, "claim_token": ""}
    sent = [pk for pk, error in results.items() if error is None]
    skipped = [pk for pk, error in results.items() if error == SKIPPED_MESSAGE]
    counts = {"sent": len(sent), "skipped": len(skipped), "retry": 0, "failed": 0}
    if sent:
        held.filter(pk__in=sent).update(status=Status.SENT, sent_at=now, last_error="", **released)
    if skipped:
        held.filter(pk__in=skipped).update(
            status=Status.SKIPPED, last_error=SKIPPED_MESSAGE, **released
        )
    failures: dict[tuple[str, bool, int], list[int]] = defaultdict(list)
    for row in rows:
        error = results.get(row.pk)
        if error is None or error == SKIPPED_MESSAGE:
            continue
        final = isinstance(error, Permanent) or row.attempts >= app_settings.MAX_ATTEMPTS
        failures[(str(error)[:MAX_ERROR], final, row.attempts)].append(row.pk)
    for (error, final, attempts), pks in failures.items():
        if final:
            held.filter(pk__in=pks).update(status=Status.FAILED, last_error=error, **released)
            counts["failed"] += len(pks)
            logger.error(
                "%s notification(s) failed for good after %s attempt(s): %s",
                len(pks),
                attempts,
                error,
            )
        else:
            retry_at = now + retry_delay(attempts)
            held.filter(pk__in=pks).update(
                status=Status.PENDING, next_attempt_at=retry_at, last_error=error, **released
            )
            counts["retry"] += len(pks)
            logger.warning(
                "%s notification(s) failed (attempt %s of %s), retry at %s: %s",
                len(pks), attempts, app_settings.MAX_ATTEMPTS, retry_at.isoformat(), error,
            )  # fmt: skip
    return counts


def parse_ids(batch: str | int) -> list[int]:
    return [int(part) for part in str(batch).split(",") if part.strip()]


def send_batch(batch: str | int) -> dict[str, int]:
    """The worker: claim, send and record the notifications of one batch (``"1,2,3"``)."""
    token, rows = claim(parse_ids(batch))
    if not rows:
        return {"claimed": 0}
    return {"claimed": len(rows), **record(token, rows, send_rows(rows))}


def sweep() -> int:
    """Enqueue again what is due and not in flight: retries whose time has come, rows whose
    enqueue was lost (older than the entity layer's ``SWEEP_GRACE``) and expired claims."""
    now = timezone.now()
    grace = now - dt.timedelta(seconds=entity_settings.SWEEP_GRACE)
    waiting = Q(status=Status.PENDING, next_attempt_at__lte=now) & (
        Q(attempts__gt=0) | Q(created_at__lte=grace)
    )
    lost = Q(status=Status.SENDING, claimed_until__lte=now)
    ids = list(
        Notification.objects.filter(waiting | lost)
        .order_by("id")
        .values_list("id", flat=True)[: app_settings.SWEEP_BATCH]
    )
    queueing.enqueue(SEND_TASK, batches(ids, app_settings.BATCH_SIZE))
    return len(ids)
