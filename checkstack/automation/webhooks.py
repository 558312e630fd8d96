"""Webhooks: endpoints, deliveries of trigger events, the delivery worker and ``webhook.send``.

Every trigger event an enabled endpoint subscribes to becomes one ``WebhookDelivery`` (unique
per endpoint and event), inserted in the dispatching transaction and enqueued after COMMIT.
A worker sends it in three steps, so no transaction or row lock is held during the HTTP call:

1. claim (short transaction, ``SELECT ... FOR UPDATE SKIP LOCKED``): the delivery is pending
   and due, and no earlier delivery (lower id) of the same endpoint and ordering key (the
   incident) is pending or sending; it becomes ``sending`` with ``claimed_until`` set;
2. POST through the SSRF-safe client (``checkstack.automation.http``), signed per Standard
   Webhooks with the delivery's stable ``message_id`` as ``webhook-id``;
3. record (second transaction): a ``WebhookAttempt`` and the outcome. 2xx succeeds; 5xx, 408,
   429 and network errors retry with backoff ``WEBHOOK_RETRY_BASE * 4**(attempt-1)`` (±20 %)
   until ``max_attempts``; anything else (3xx, other 4xx, an address refused at send time)
   fails at once. A finished delivery hands over to the next one in its line.

A worker killed during the POST leaves the delivery ``sending``; once ``claimed_until`` passed,
the sweeper re-enqueues it and it is sent again with the same ``webhook-id`` (the lost attempt
is recorded; a lost last attempt earns at most one extra attempt).

Decisions where the spec is silent:
- deliveries already pending when an endpoint is disabled are still sent (disabling stops new
  deliveries only); pings work on disabled endpoints;
- pings have one attempt and do not count towards (or reset) ``consecutive_failures``;
- an endpoint with a ``system_ids`` filter receives only events naming one of those systems
  (``systemIds`` or ``systemId`` in the payload); events without systems are not sent to it;
- an event delivery's ``created_at`` is the event's time (the body's ``timestamp``), so the
  body is the same on every attempt and every redelivery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator

from checkstack.actors import ActorLike, to_actor
from checkstack.entities.masking import mask_value, register_run_secret
from checkstack.entities.models import TriggerEvent
from checkstack.errors import Conflict, NotFound
from checkstack.validation import UNSET, Errors, clean_id_list

from . import http
from .conf import app_settings
from .models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    new_message_id,
)
from .registry import ActionContext, ActionResult, get_trigger, register_action
from .signing import generate_secret, secret_variants, webhook_headers

logger = logging.getLogger("checkstack.automation.webhooks")

ALL_EVENTS = "*"
PING_EVENT = "webhook.ping"
SEND_ACTION = "webhook.send"
MAX_DESCRIPTION = 2000
MAX_EVENTS = 200
MAX_ERROR_LENGTH = 2000
# Seconds a claim outlives the attempt's timeout (DNS, scheduling) before the sweeper may
# presume the worker dead and send again.
CLAIM_MARGIN = 60.0
RETRYABLE_STATUSES = frozenset({408, 429})

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


# -- endpoints --------------------------------------------------------------------------------


def _clean_url(errors: Errors, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add("url", "This field may not be blank.")
        return ""
    value = value.strip()
    if errors.unstorable("url", value):
        return value
    problem = http.check_url(value)
    if problem is not None:
        errors.add("url", problem)
    return value


def _clean_events(errors: Errors, value: Any) -> list[str]:
    if value is None:
        return [ALL_EVENTS]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        errors.add("events", 'Must be a list of trigger ids, or ["*"] for every event.')
        return []
    if errors.unstorable("events", value):
        return []
    events = list(dict.fromkeys(v.strip() for v in value))
    if not events:
        errors.add("events", 'Give at least one trigger id, or "*" for every event.')
    if len(events) > MAX_EVENTS:
        errors.add("events", f"Give at most {MAX_EVENTS} trigger ids.")
    for event in events:
        if event != ALL_EVENTS and get_trigger(event) is None:
            errors.add("events", f"{event!r} is not a registered trigger.")
    return events


def _clean_description(errors: Errors, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.add("description", "Must be a string.")
        return ""
    errors.unstorable("description", value)
    if len(value) > MAX_DESCRIPTION:
        errors.add(
            "description", f"Ensure this field has no more than {MAX_DESCRIPTION} characters."
        )
    return value.strip()


def _clean_enabled(errors: Errors, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add("enabled", "Must be true or false.")
        return False
    return value


def _clean_system_ids(errors: Errors, value: Any) -> list[str]:
    if value is None:
        return []
    return clean_id_list(errors, "system_ids", value)


def create_endpoint(
    *,
    url: Any,
    events: Any = None,
    system_ids: Any = None,
    description: Any = "",
    enabled: Any = True,
    actor: ActorLike = None,
) -> WebhookEndpoint:
    """Create an endpoint with a new signing secret (``events`` default ``["*"]``)."""
    errors = Errors()
    endpoint = WebhookEndpoint(
        url=_clean_url(errors, url),
        events=_clean_events(errors, events),
        system_ids=_clean_system_ids(errors, system_ids),
        description=_clean_description(errors, description),
        enabled=_clean_enabled(errors, enabled),
        secret=generate_secret(),
    )
    errors.raise_if_any()
    endpoint.save()
    logger.info("Webhook endpoint %s created by %s", endpoint.pk, to_actor(actor).get("id"))
    return endpoint


def _endpoint_pk(endpoint_id: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(endpoint_id))
    except (TypeError, ValueError, AttributeError):
        raise NotFound(f"Webhook endpoint {endpoint_id} not found") from None


def update_endpoint(
    endpoint_id: str,
    *,
    url: Any = UNSET,
    events: Any = UNSET,
    system_ids: Any = UNSET,
    description: Any = UNSET,
    enabled: Any = UNSET,
    actor: ActorLike = None,
) -> WebhookEndpoint:
    """Change the given fields; enabling a disabled endpoint clears its failure record."""
    pk = _endpoint_pk(endpoint_id)
    errors = Errors()
    changes: dict[str, Any] = {}
    if url is not UNSET:
        changes["url"] = _clean_url(errors, url)
    if events is not UNSET:
        changes["events"] = _clean_events(errors, events)
    if system_ids is not UNSET:
        changes["system_ids"] = _clean_system_ids(errors, system_ids)
    if description is not UNSET:
        changes["description"] = _clean_description(errors, description)
    if enabled is not UNSET:
        changes["enabled"] = _clean_enabled(errors, enabled)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=pk).first()
        if endpoint is None:
            raise NotFound(f"Webhook endpoint {endpoint_id} not found")
        errors.raise_if_any()
        if changes.get("enabled") is True and not endpoint.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        for field, value in changes.items():
            setattr(endpoint, field, value)
        endpoint.save()
    logger.info("Webhook endpoint %s updated by %s", endpoint.pk, to_actor(actor).get("id"))
    return endpoint


def delete_endpoint(endpoint_id: str, *, actor: ActorLike = None) -> None:
    """Delete the endpoint with its deliveries and attempts."""
    deleted, _ = WebhookEndpoint.objects.filter(pk=_endpoint_pk(endpoint_id)).delete()
    if not deleted:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    logger.info("Webhook endpoint %s deleted by %s", endpoint_id, to_actor(actor).get("id"))


def get_endpoint(endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(pk=_endpoint_pk(endpoint_id)).first()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found")
    return endpoint


def list_endpoints() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("created_at", "id")


def _with_attempts(deliveries: QuerySet[WebhookDelivery]) -> QuerySet[WebhookDelivery]:
    return deliveries.prefetch_related(
        Prefetch("attempt_log", queryset=WebhookAttempt.objects.order_by("number"))
    )


def list_deliveries(endpoint_id: str) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their attempts (``attempt_log``)."""
    endpoint = get_endpoint(endpoint_id)
    return _with_attempts(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id"))


def _delivery_pk(delivery_id: Any) -> int:
    if isinstance(delivery_id, bool):
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    try:
        pk = int(str(delivery_id).strip())
    except (TypeError, ValueError):
        raise NotFound(f"Webhook delivery {delivery_id} not found") from None
    if not 0 < pk < 2**63:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return pk


def get_delivery(delivery_id: Any) -> WebhookDelivery:
    delivery = (
        _with_attempts(WebhookDelivery.objects.select_related("endpoint"))
        .filter(pk=_delivery_pk(delivery_id))
        .first()
    )
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} not found")
    return delivery


# -- creating deliveries ----------------------------------------------------------------------


def _enqueue(delivery_ids: list[int]) -> None:
    from checkstack.entities.conf import app_settings as entity_settings
    from checkstack.entities.outbox import enqueue_tasks

    from .tasks import WEBHOOK_TASK

    if delivery_ids and entity_settings.ENQUEUE:
        enqueue_tasks([(WEBHOOK_TASK, d) for d in delivery_ids])


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    if delivery_ids:
        transaction.on_commit(lambda: _enqueue(delivery_ids), robust=True)


def payload_system_ids(payload: Mapping[str, Any]) -> set[str]:
    """The systems an event concerns: ``systemIds`` (incidents) and ``systemId`` (catalog)."""
    ids: set[str] = set()
    many = payload.get("systemIds")
    if isinstance(many, (list, tuple)):
        ids.update(str(s) for s in many if isinstance(s, (str, int)))
    one = payload.get("systemId")
    if isinstance(one, (str, int)) and not isinstance(one, bool):
        ids.add(str(one))
    return ids


def _subscribes(endpoint: WebhookEndpoint, event: str, systems: set[str]) -> bool:
    events = endpoint.events if isinstance(endpoint.events, list) else []
    if ALL_EVENTS not in events and event not in events:
        return False
    wanted = endpoint.system_ids if isinstance(endpoint.system_ids, list) else []
    return not wanted or bool(systems.intersection(str(s) for s in wanted))


def create_deliveries_for_event(event: TriggerEvent) -> list[int]:
    """One delivery per enabled endpoint subscribed to ``event``; the new ids.

    Runs inside the dispatching transaction: a delivery that exists already (the event is
    dispatched again) is left alone, and the new ones are enqueued after COMMIT. Three queries
    whatever the number of endpoints.
    """
    payload = event.payload if isinstance(event.payload, dict) else {}
    systems = payload_system_ids(payload)
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(enabled=True)
        if _subscribes(e, event.event, systems)
    ]
    if not endpoints:
        return []
    now = timezone.now()
    rows = [
        WebhookDelivery(
            message_id=new_message_id(),
            endpoint=endpoint,
            trigger_event_id=event.pk,
            event_type=event.event,
            data=payload,
            ordering_key=event.context_key,
            max_attempts=app_settings.WEBHOOK_MAX_ATTEMPTS,
            next_attempt_at=now,
            created_at=event.created_at or now,
        )
        for endpoint in endpoints
    ]
    # ON CONFLICT DO NOTHING: no IntegrityError, no broken transaction on redispatch.
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    ids = list(
        WebhookDelivery.objects.filter(message_id__in=[r.message_id for r in rows])
        .order_by("id")
        .values_list("id", flat=True)
    )
    _enqueue_after_commit(ids)
    return ids


def ping(endpoint_id: str, *, actor: ActorLike = None) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery (one attempt), also to a disabled endpoint."""
    endpoint = get_endpoint(endpoint_id)
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_type=PING_EVENT,
        data={"endpointId": str(endpoint.pk), "message": "Test ping from Checkstack"},
        max_attempts=1,
        next_attempt_at=now,
        created_at=now,
    )
    _enqueue_after_commit([delivery.pk])
    logger.info("Ping %s queued for endpoint %s by %s", delivery.pk, endpoint.pk, _actor_id(actor))
    return delivery


def redeliver(delivery_id: Any, *, actor: ActorLike = None) -> WebhookDelivery:
    """Send a delivery again: same ``webhook-id`` and body, due now, a fresh attempt budget."""
    pk = _delivery_pk(delivery_id)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=pk).first()
        if delivery is None:
            raise NotFound(f"Webhook delivery {delivery_id} not found")
        if delivery.status == Status.SENDING:
            raise Conflict(
                f"Webhook delivery {pk} is being sent right now; redeliver it once the attempt "
                "has finished."
            )
        budget = 1 if delivery.event_type == PING_EVENT else app_settings.WEBHOOK_MAX_ATTEMPTS
        delivery.status = Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.max_attempts = delivery.attempts + budget
        delivery.finished_at = None
        delivery.claimed_until = None
        delivery.save(
            update_fields=[
                "status",
                "next_attempt_at",
                "max_attempts",
                "finished_at",
                "claimed_until",
            ]
        )
        _enqueue_after_commit([delivery.pk])
    logger.info("Webhook delivery %s redelivered by %s", pk, _actor_id(actor))
    return get_delivery(pk)


def _actor_id(actor: ActorLike) -> Any:
    return to_actor(actor).get("id")


# -- sending ----------------------------------------------------------------------------------


def _iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed): ``{id, type, timestamp, data}``, compact JSON."""
    message = {
        "id": delivery.message_id,
        "type": delivery.event_type,
        "timestamp": _iso_utc(delivery.created_at),
        "data": delivery.data,
    }
    return json.dumps(
        message, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode("utf-8")


def retry_delay(attempts: int) -> dt.timedelta:
    """``WEBHOOK_RETRY_BASE * 4**(attempts-1)`` seconds, ±20 % jitter."""
    base = app_settings.WEBHOOK_RETRY_BASE * (4 ** max(0, attempts - 1))
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def _mask(text: str, secret: str) -> str:
    return str(mask_value(text, secret_variants(secret))) if secret else text


def _claim_seconds() -> float:
    return app_settings.WEBHOOK_TIMEOUT + CLAIM_MARGIN


def _blocked(delivery: WebhookDelivery) -> bool:
    if delivery.ordering_key is None:
        return False
    return WebhookDelivery.objects.filter(
        endpoint_id=delivery.endpoint_id,
        ordering_key=delivery.ordering_key,
        id__lt=delivery.pk,
        status__in=[Status.PENDING, Status.SENDING],
    ).exists()


def _next_in_line(delivery: WebhookDelivery) -> int | None:
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
        lost = (
            delivery.status == Status.SENDING
            and delivery.claimed_until is not None
            and delivery.claimed_until <= now
        )
        due = delivery.status == Status.PENDING and delivery.next_attempt_at <= now
        if not (lost or due):
            return Outcome.SKIPPED, None
        if _blocked(delivery):
            return Outcome.BLOCKED, None
        claimed_until = now + dt.timedelta(seconds=_claim_seconds())
        # Compare-and-set, so two workers cannot both claim it even where FOR UPDATE is a
        # no-op (SQLite).
        unchanged = WebhookDelivery.objects.filter(
            pk=delivery.pk, status=delivery.status, attempts=delivery.attempts
        )
        if lost:
            # The worker of attempt ``attempts`` stopped mid-POST: record it; a lost last
            # attempt earns one extra attempt, a lost extra attempt ends the delivery.
            final = delivery.attempts > delivery.max_attempts
            error = "No result: the worker stopped during this attempt"
            if final:
                if not unchanged.update(claimed_until=None):
                    return Outcome.BUSY, None
                _record_lost(delivery, error, Outcome.FAILED, now)
                _finish(delivery, Status.FAILED, None, error, now)
                return Outcome.FAILED, delivery
        if not unchanged.update(
            status=Status.SENDING, attempts=delivery.attempts + 1, claimed_until=claimed_until
        ):
            return Outcome.BUSY, None
        if lost:
            _record_lost(delivery, error, Outcome.RETRY, now)
        delivery.status = Status.SENDING
        delivery.attempts += 1
        delivery.claimed_until = claimed_until
    return Outcome.SUCCESS, delivery


def _record_lost(delivery: WebhookDelivery, error: str, outcome: Outcome, now: dt.datetime) -> None:
    WebhookAttempt.objects.create(
        delivery=delivery, number=delivery.attempts, error=error, outcome=outcome, created_at=now
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
        _count_for_endpoint(delivery.endpoint_id, succeeded=status == Status.SUCCESS, now=now)


def _count_for_endpoint(endpoint_id: uuid.UUID, *, succeeded: bool, now: dt.datetime) -> None:
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint_id, consecutive_failures__gt=0).update(
            consecutive_failures=0
        )
        return
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures"]
    limit = app_settings.WEBHOOK_DISABLE_AFTER
    if endpoint.enabled and limit > 0 and endpoint.consecutive_failures >= limit:
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = (
            f"Disabled after {endpoint.consecutive_failures} consecutive failed deliveries"
        )
        fields += ["enabled", "disabled_at", "disabled_reason"]
        logger.warning(
            "Webhook endpoint %s disabled after %s consecutive failed deliveries",
            endpoint.pk,
            endpoint.consecutive_failures,
        )
    endpoint.save(update_fields=[*fields, "updated_at"])


def _classify(result: http.PostResult) -> tuple[bool, bool]:
    """(success, worth a retry) of one POST."""
    if result.status_code is None:
        return False, not result.refused
    code = result.status_code
    if 200 <= code < 300:
        return True, False
    return False, code >= 500 or code in RETRYABLE_STATUSES


def _record(claimed: WebhookDelivery, result: http.PostResult) -> Outcome:
    """Store the attempt and the delivery's new state (second transaction)."""
    secret = claimed.endpoint.secret
    excerpt = _mask(result.excerpt, secret)
    error = _mask(result.error, secret)[:MAX_ERROR_LENGTH]
    success, retryable = _classify(result)
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
        return claim, _next_in_line(delivery)
    body = delivery_body(delivery)
    headers = webhook_headers(delivery.endpoint.secret, delivery.message_id, int(time.time()), body)
    result = http.post(delivery.endpoint.url, body, headers)
    outcome = _record_despite_outage(delivery, result)
    if outcome in (Outcome.SUCCESS, Outcome.FAILED):
        return outcome, _next_in_line(delivery)
    return outcome, None


def _send_chain(delivery_id: int) -> tuple[Outcome, int]:
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
    return str(_send_chain(int(delivery_id))[0])


# -- sweeping ---------------------------------------------------------------------------------


def _due_ids(*, grace: float, limit: int) -> tuple[list[int], list[int]]:
    """(due pending deliveries heading their line, ``sending`` ones whose claim expired)."""
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lte=now
    ).filter(Q(attempts__gt=0) | Q(next_attempt_at__lte=now - dt.timedelta(seconds=grace)))
    lost = WebhookDelivery.objects.filter(status=Status.SENDING, claimed_until__lte=now)
    return _line_heads(pending, limit), _line_heads(lost, limit)


def _line_heads(candidates: QuerySet[WebhookDelivery], limit: int) -> list[int]:
    """Up to ``limit`` ids of ``candidates`` (oldest first) with no earlier open delivery in
    their (endpoint, ordering key) line.

    Read a page at a time, each page's lines checked with one query, so a sweep costs at most
    one pass over the backlog whatever plan the statistics give (an anti-join over the whole
    backlog, planned on statistics older than a burst, is quadratic).
    """
    ordered = candidates.order_by("id").values_list("id", "endpoint_id", "ordering_key")
    heads: list[int] = []
    page = list(ordered[:limit])
    while page and len(heads) < limit:
        keyed = [(pk, endpoint, key) for pk, endpoint, key in page if key is not None]
        first: dict[tuple[Any, str | None], int] = {}
        if keyed:
            for endpoint, key, pk in (
                WebhookDelivery.objects.filter(
                    ordering_key__in={key for _, _, key in keyed},
                    endpoint_id__in={endpoint for _, endpoint, _ in keyed},
                    status__in=[Status.PENDING, Status.SENDING],
                    id__lte=max(pk for pk, _, _ in keyed),
                )
                .order_by("id")
                .values_list("endpoint_id", "ordering_key", "id")
            ):
                first.setdefault((endpoint, key), pk)
        # .get: a row a worker finished since the page was read is no longer open, not a head.
        heads += [
            pk for pk, endpoint, key in page if key is None or first.get((endpoint, key)) == pk
        ]
        page = list(ordered.filter(id__gt=page[-1][0])[:limit])
    return heads[:limit]


def sweep() -> dict[str, int]:
    """Re-enqueue due deliveries (retries, lost enqueues) and those a dead worker left."""
    from checkstack.entities.conf import app_settings as entity_settings

    pending, lost = _due_ids(grace=entity_settings.SWEEP_GRACE, limit=entity_settings.SWEEP_BATCH)
    _enqueue(pending + lost)
    if pending or lost:
        logger.info(
            "Sweeper re-enqueued %s due and %s lost webhook deliveries", len(pending), len(lost)
        )
    return {"webhook_deliveries": len(pending), "webhook_lost_deliveries": len(lost)}


def deliver_due_inline() -> int:
    """Send every due delivery in this process, in order, until none is due; attempts made.

    Retries are scheduled into the future by their backoff, so the loop ends.
    """
    attempted = 0
    while True:
        pending, lost = _due_ids(grace=0, limit=500)
        progress = False
        for delivery_id in sorted(pending + lost):
            _, count = _send_chain(delivery_id)
            if count:
                attempted += count
                progress = True
        if not progress:
            return attempted


# -- the webhook.send action ------------------------------------------------------------------


class WebhookSendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=http.MAX_URL_LENGTH, description="http(s) URL.")
    secret: str | None = Field(
        default=None,
        description="Standard Webhooks secret (whsec_...); the request is signed when given. "
        "Use {{ secrets.NAME }}.",
    )
    body: str | None = Field(
        default=None,
        description="JSON text sent as is (a template); default {id, type, timestamp, data}.",
    )
    event_type: str = Field(default="automation.webhook", min_length=1, max_length=150)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def action_message_id(run_id: str | None, step_id: str | None) -> str:
    """Stable per (run, step): a replayed step sends the same ``webhook-id``."""
    if run_id is None:
        return new_message_id()
    digest = hashlib.sha256(f"{run_id}:{step_id or ''}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def run_webhook_send(ctx: ActionContext, config: WebhookSendConfig) -> ActionResult:
    secret = config.secret or None
    if secret and ctx.run_id is not None:
        for variant in secret_variants(secret):
            register_run_secret(ctx.run_id, variant)
    message_id = action_message_id(ctx.run_id, ctx.step_id)
    if config.body is not None:
        try:
            json.loads(config.body)
        except ValueError as exc:
            return ActionResult(success=False, error=f"body is not valid JSON: {exc}")
        body = config.body.encode("utf-8")
    else:
        message = {
            "id": message_id,
            "type": config.event_type,
            "timestamp": _iso_utc(timezone.now()),
            "data": {"run_id": ctx.run_id, "context_key": ctx.context_key},
        }
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = webhook_headers(secret, message_id, int(time.time()), body)
    result = http.post(config.url, body, headers)
    masked = secret or ""
    if result.status_code is not None and 200 <= result.status_code < 300:
        ctx.logger.info("webhook.send %s: HTTP %s", message_id, result.status_code)
        return ActionResult(success=True, external_id=message_id)
    if result.status_code is not None:
        excerpt = _mask(result.excerpt, masked)[:500]
        error = f"HTTP {result.status_code}: {excerpt}" if excerpt else f"HTTP {result.status_code}"
    else:
        error = _mask(result.error, masked)
    ctx.logger.info("webhook.send %s failed: %s", message_id, error)
    return ActionResult(success=False, external_id=message_id, error=error)


def register_webhook_action() -> None:
    register_action(
        SEND_ACTION,
        "Send webhook",
        "POST JSON to a URL, signed per Standard Webhooks when a secret is given; the "
        "webhook-id is stable for the run and step.",
        "Automation",
        WebhookSendConfig,
        run_webhook_send,
        transactional=False,  # an HTTP call: never hold the run's transaction open over it
    )
