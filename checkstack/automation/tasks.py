"""django-q2 task entry points of the automation engine: load a row by id, call the service."""

from __future__ import annotations

RUN_TASK = "checkstack.automation.tasks.execute_run"
WEBHOOK_TASK = "checkstack.automation.tasks.send_webhook"
SWEEP_TASK = "checkstack.automation.tasks.sweep"


def execute_run(run_id: str) -> str:
    from . import runs

    return str(runs.execute_run(run_id))


def send_webhook(delivery_id: int) -> str:
    from . import webhooks

    return str(webhooks.send_delivery(int(delivery_id)))


def sweep() -> dict[str, int]:
    from . import runs, webhooks

    return {**runs.sweep(), **webhooks.sweep()}
