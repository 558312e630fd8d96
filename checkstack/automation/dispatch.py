"""Entry point from the entity layer's outbox into the automation engine.

``dispatch(event)`` runs inside the transaction that marks the trigger event dispatched (the
event row is locked), so everything it writes commits together with that mark, exactly once:

- every enabled automation on the event whose filter matches gets at most one run, after the
  concurrency rule of its bucket (decided under an advisory lock per bucket);
- runs waiting for this event and context key resume;
- every matching webhook endpoint gets one delivery.

After COMMIT the dispatching process executes the first new run or delivery itself and
enqueues the others in one batch (``queueing.handing_off``): one queue hop from the write.

Events caused by an automation's own runs do not start that automation again (an automation
that changes the status on ``incident.updated`` would otherwise loop); other automations see
them as usual.

A filter that cannot be evaluated (an undefined name, a sandbox refusal) counts as no match
for executing anything, and is recorded as a ``failed`` run carrying the error, so operators
see it.
"""

from __future__ import annotations

import logging

from checkstack.entities.locks import advisory_lock
from checkstack.entities.models import TriggerEvent

from . import queueing, runs, webhooks
from .models import Automation, RunStatus
from .templating import TemplateFailure, evaluate_filter

logger = logging.getLogger("checkstack.automation")


def dispatch(event: TriggerEvent) -> None:
    """Start the runs of every enabled automation matching ``event``; resume waiting runs;
    create webhook deliveries. After COMMIT the first of them is executed in this process and
    the others enqueued (``queueing.handing_off``)."""
    with queueing.handing_off():
        _dispatch(event)


def _dispatch(event: TriggerEvent) -> None:
    automations = Automation.objects.filter(enabled=True, trigger__event=event.event).order_by(
        "created_at", "id"
    )
    scope = {
        "trigger": {
            "event": event.event,
            "payload": event.payload,
            "actor": event.actor,
            "context_key": event.context_key,
        }
    }
    for automation in automations:
        if (event.actor or {}).get("id") == runs.automation_actor(automation)["id"]:
            continue  # the automation's own writes never start it again (no loops)
        try:
            matched = evaluate_filter((automation.trigger or {}).get("filter") or "", scope)
        except TemplateFailure as exc:
            logger.warning("Automation %s: %s", automation.pk, exc)
            runs.create_run(automation, event, status=RunStatus.FAILED, error=str(exc))
            continue
        if matched:
            _start_run(automation, event)
    runs.resume_waiting_runs(event)
    webhooks.create_deliveries_for_event(event)


def _start_run(automation: Automation, event: TriggerEvent) -> None:
    """Apply the concurrency rule of the automation's bucket, then create the run."""
    concurrency = automation.concurrency or {}
    per_context = concurrency.get("scope") == "context_key"
    bucket = (event.context_key or "@@none") if per_context else "@@all"
    advisory_lock(f"automation.concurrency:{automation.pk}:{bucket}")
    active = runs.active_runs(automation, event.context_key)
    mode = concurrency.get("mode", "parallel")
    if mode == "single":
        blocking = active.values_list("pk", flat=True).first()
        if blocking is not None:
            runs.create_run(
                automation,
                event,
                status=RunStatus.SKIPPED,
                error=f"Skipped: run {blocking} of this automation is still active "
                "(concurrency mode 'single').",
            )
            return
    elif mode == "restart":
        runs.cancel_runs(active, reason=f"Cancelled: restarted by trigger event {event.pk}")
    else:
        max_runs = int(concurrency.get("max_runs") or 1)
        if active.count() >= max_runs:
            runs.create_run(
                automation,
                event,
                status=RunStatus.SKIPPED,
                error=f"Skipped: {max_runs} run(s) of this automation are already active "
                "(concurrency max_runs).",
            )
            return
    runs.create_run(automation, event)
