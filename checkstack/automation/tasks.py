"""django-q2 task entry points of the automation engine: load a row by id, call the service.

The top of the package: the engine below refers to these functions by name only
(``checkstack.automation.queueing``).
"""

from __future__ import annotations

from . import runs, webhooks
from .queueing import RUN_TASK, SWEEP_TASK, WEBHOOK_TASK

__all__ = ["RUN_TASK", "SWEEP_TASK", "WEBHOOK_TASK", "execute_run", "send_webhook", "sweep"]


def execute_run(run_id: str) -> str:
    return str(runs.execute_run(run_id))


def send_webhook(delivery_id: int) -> str:
    return str(webhooks.send_delivery(int(delivery_id)))


def sweep() -> dict[str, int]:
    return {**runs.sweep(), **webhooks.sweep()}
