"""Sending one delivery, in three steps, so no transaction or row lock is held during the
HTTP call:

1. claim (short transaction, ``SELECT ... FOR UPDATE SKIP LOCKED``): the delivery is pending
   and due, and no earlier delivery (lower id) of the same endpoint and ordering key (the
   incident) is pending or sending; it becomes ``sending`` with ``claimed_until`` set;
2. POST through the SSRF-safe client (``checkstack.automation.http``), signed per Standard
   Webhooks with the delivery's stable ``message_id`` as ``webhook-id``;
3. record (second transaction): a ``WebhookAttempt`` and the outcome, after the retry policy
   (``policy``). A finished delivery hands over to the next one in its line.

While the POST is in flight a heartbeat thread renews ``claimed_until`` (``LEASE``, 5 s, every
third of it). A worker killed during the POST leaves the delivery ``sending``; once
``claimed_until`` passed, a worker's recovery watch hands it back (``release_lost``) and it is
sent again with the same ``webhook-id`` (the lost attempt is recorded; a lost last attempt
earns at most one extra attempt). A worker that lost its claim without dying records nothing
(``STALE``): each attempt number is recorded once.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from enum import StrEnum

from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import http, queueing
from ..models import WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus
from ..signing import webhook_headers
from .message import PING_EVENT, delivery_body, mask_secret
from .policy import claim_seconds, classify, count_for_endpoint, retry_delay

logger = logging.getLogger("checkstack.automation.webhooks")

MAX_ERROR_LENGTH = 2000

Status = WebhookDeliveryStatus


class Outcome(StrEnum):
    SUCCESS = "success"
    RETRY = "retry"
    FAILED = "failed"
    BUSY = "busy"  # another worker holds the row, or it does not exist
    BLOCKED = "blocked"  # an earlier delivery of the same endpoint and key is not finished
    SKIPPED = "skipped"  # finished, being sent, or not due yet
    STALE = "stale"  # the claim expired and another worker took the delivery over


_ATTEMPTED = frozenset({Outcome.SUCCESS, Outcome.RETRY, Outcome.FAILED, Outcome.STALE})


def _blocked(delivery: WebhookDelivery) -> bool:
    if delivery.ordering_key is None:
        return False
    return WebhookDelivery.objects.filter(
        endpoint_id=delivery.endpoint_id,
        ordering_key=delivery.ordering_key,
        id__lt=delivery.pk,
        status__in=[Status.PENDING, Status.SENDING],
    ).exists()


def next_in_line(delivery: WebhookDelivery) -> int | None:
    if delivery.ordering_key is None:
        return None
    return (
        WebhookDelivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            ordering_key=delivery.ordering_key,
            id__gt=delivery.pk,
            status=Status.PENDING,
            next_attempt_at__lte=timezone.now(),
        )
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def _claim(delivery_id: int, *, wait: bool) -> tuple[Outcome, WebhookDelivery | None]:
    """Make the delivery ``sending`` (attempts + 1) if it may be sent now."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=not wait, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return Outcome.BUSY, None
        now = timezone.now()
        lost = _lost(delivery, now)
        due = delivery.status == Status.PENDING and delivery.next_attempt_at <= now
        if not (lost or due):
            return Outcome.SKIPPED, None
        if _blocked(delivery):
            return Outcome.BLOCKED, None
        claimed_until = now + dt.timedelta(seconds=claim_seconds())
        # Compare-and-set, so two workers cannot both claim it even where FOR UPDATE is a
        # no-op (SQLite).
        unchanged = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=delivery.status, attempts=delivery.attempts
        )
        # The worker of attempt ``attempts`` stopped mid-POST: it is recorded; a lost last
        # attempt earns one extra attempt, a lost extra attempt ends the delivery.
        if lost and delivery.attempts > delivery.max_attempts:
            if not _fail_lost(delivery, unchanged, now):
                return Outcome.BUSY, None
            return Outcome.FAILED, delivery
        if not unchanged.update(
            status=Status.SENDING, attempts=delivery.attempts + 1, claimed_until=claimed_until
        ):
            return Outcome.BUSY, None
        if lost:
            _record_lost(delivery, Outcome.RETRY, now)
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.claimed_until = claimed_until
    return Outcome.SUCCESS, delivery


LOST_ERROR = "No result: the worker stopped during this attempt"


def _lost(delivery: WebhookDelivery, now: dt.datetime) -> bool:
    """Whether the delivery's worker stopped renewing its claim (it crashed mid-POST)."""
    return (
        delivery.status == Status.SENDING
        and delivery.claimed_until is not None
        and delivery.claimed_until <= now
    )


def _record_lost(delivery: WebhookDelivery, outcome: Outcome, now: dt.datetime) -> None:
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        error=LOST_ERROR,
        outcome=outcome,
        created_at=now,
    )


def _fail_lost(
    delivery: WebhookDelivery, unchanged: QuerySet[WebhookDelivery], now: dt.datetime
) -> bool:
    """A lost extra attempt ends the delivery; False if another worker changed it first."""
    if not unchanged.update(claimed_until=None):
        return False
    _record_lost(delivery, Outcome.FAILED, now)
    _finish(delivery, Status.FAILED, None, LOST_ERROR, now)
    return True


def release_lost(delivery_id: int) -> int | None:
    """Hand back a delivery whose claim lapsed: the lost attempt is recorded and it is due
    again at once (a lost extra attempt fails it). Returns the id to enqueue (it, or the next
    one of its line once it failed); None if it is not lost (any more).

    Pending, it still holds back the later deliveries of its line, so the order is kept.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=delivery_id)
            .first()
        )
        now = timezone.now()
        if delivery is None or not _lost(delivery, now):
            return None
        unchanged = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=delivery.status, attempts=delivery.attempts
        )
        if delivery.attempts > delivery.max_attempts:
            return next_in_line(delivery) if _fail_lost(delivery, unchanged, now) else None
        if not unchanged.update(status=Status.PENDING, next_attempt_at=now, claimed_until=None):
            return None
        _record_lost(delivery, Outcome.RETRY, now)
    logger.warning(
        "Webhook delivery %s: attempt %s lost (the worker stopped); sending it again",
        delivery.pk,
        delivery.attempts,
    )
    return delivery.pk


def _renew(claimed: WebhookDelivery) -> bool:
    """Extend the claim of this attempt; False once it was taken over."""
    claimed_until = timezone.now() + dt.timedelta(seconds=claim_seconds())
    return bool(
        WebhookDelivery.objects.filter(
            pk=claimed.pk, status=Status.SENDING, attempts=claimed.attempts
        ).update(claimed_until=claimed_until)
    )


def _finish(
    delivery: WebhookDelivery,
    status: str,
    status_code: int | None,
    error: str,
    now: dt.datetime,
) -> None:
    delivery.status = status
    delivery.finished_at = now
    delivery.claimed_until = None
    delivery.last_status_code = status_code
    delivery.last_error = error
    delivery.save(
        update_fields=["status", "finished_at", "claimed_until", "last_status_code", "last_error"]
    )
    if delivery.event_type != PING_EVENT:
        count_for_endpoint(delivery.endpoint_id, succeeded=status == Status.SUCCESS, now=now)


def _record(claimed: WebhookDelivery, result: http.PostResult) -> Outcome:
    """Store the attempt and the delivery's new state (second transaction)."""
    secret = claimed.endpoint.secret
    excerpt = mask_secret(result.excerpt, secret)
    error = mask_secret(result.error, secret)[:MAX_ERROR_LENGTH]
    success, retryable = classify(result)
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",)).filter(pk=claimed.pk).first()
        )
        if (
            delivery is None
            or delivery.status != Status.SENDING
            or delivery.attempts != claimed.attempts
        ):
            return Outcome.STALE  # deleted, or taken over after the claim expired
        now = timezone.now()
        if success:
            outcome = Outcome.SUCCESS
        elif retryable and delivery.attempts < delivery.max_attempts:
            outcome = Outcome.RETRY
        else:
            outcome = Outcome.FAILED
        if result.status_code is not None and not success:
            error = f"HTTP {result.status_code}"
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            status_code=result.status_code,
            duration_ms=max(0, result.duration_ms),
            response_excerpt=excerpt,
            error=error,
            outcome=str(outcome),
            created_at=now,
        )
        if outcome is Outcome.RETRY:
            delivery.status = Status.PENDING
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
            delivery.claimed_until = None
            delivery.last_status_code = result.status_code
            delivery.last_error = error
            delivery.save(
                update_fields=[
                    "status",
                    "next_attempt_at",
                    "claimed_until",
                    "last_status_code",
                    "last_error",
                ]
            )
        else:
            status = Status.SUCCESS if success else Status.FAILED
            _finish(delivery, status, result.status_code, "" if success else error, now)
    if outcome is not Outcome.SUCCESS:
        logger.info(
            "Webhook delivery %s attempt %s of %s: %s (%s)",
            claimed.pk,
            claimed.attempts,
            claimed.max_attempts,
            outcome,
            error,
        )
    return outcome


RECORD_RETRY_SECONDS = 30.0


def _record_despite_outage(claimed: WebhookDelivery, result: http.PostResult) -> Outcome:
    """Store the outcome of a POST that happened, retrying through a brief database outage
    (e.g. a restart): otherwise the message would be sent again once the claim expires."""
    deadline = time.monotonic() + RECORD_RETRY_SECONDS
    while True:
        try:
            return _record(claimed, result)
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            logger.warning("Database unavailable while recording delivery %s; retrying", claimed.pk)
            connection.close()
            time.sleep(1.0)


def _send_one(delivery_id: int, *, wait: bool) -> tuple[Outcome, int | None]:
    claim, delivery = _claim(delivery_id, wait=wait)
    if delivery is None:
        return claim, None
    if claim is Outcome.FAILED:  # a lost extra attempt ended it
        return claim, next_in_line(delivery)
    body = delivery_body(delivery)
    headers = webhook_headers(delivery.endpoint.secret, delivery.message_id, int(time.time()), body)
    with queueing.renewing(lambda: _renew(delivery), name=f"webhook delivery {delivery.pk}"):
        result = http.post(delivery.endpoint.url, body, headers)
    outcome = _record_despite_outage(delivery, result)
    if outcome in (Outcome.SUCCESS, Outcome.FAILED):
        return outcome, next_in_line(delivery)
    return outcome, None


def send_chain(delivery_id: int) -> tuple[Outcome, int]:
    outcome, next_id = _send_one(delivery_id, wait=False)
    attempted = 1 if outcome in _ATTEMPTED else 0
    while next_id is not None:
        # Wait for the row lock: a worker that found it blocked a moment ago is only
        # finishing its short check, and would otherwise leave it to the sweeper.
        chained, next_id = _send_one(next_id, wait=True)
        attempted += 1 if chained in _ATTEMPTED else 0
    return outcome, attempted


def send_delivery(delivery_id: int) -> str:
    """The worker: send one delivery, then each later one of its line it unblocked.

    Returns the outcome of ``delivery_id``: success, retry, failed, busy, blocked, skipped or
    stale.
    """
    return str(send_chain(int(delivery_id))[0])
