"""Helpers of the engine tests: drain the outbox and the runs in this process, test actions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from checkstack.automation import runs
from checkstack.automation.registry import ActionContext, ActionResult, register_action
from checkstack.entities.delivery import sweep_inline


def drain() -> None:
    """Dispatch every trigger event and execute every runnable run, until nothing is left."""
    while True:
        _, dispatched = sweep_inline()
        executed = runs.execute_due_inline()
        if not dispatched and not executed:
            return


class RecordConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    value: Any = None


def register_recorder(calls: list[dict[str, Any]], action_id: str = "test.record") -> None:
    """An action that appends ``{label, value, run_id, consumed}`` to ``calls``."""

    def run(ctx: ActionContext, config: RecordConfig) -> ActionResult:
        calls.append(
            {
                "label": config.label,
                "value": config.value,
                "run_id": ctx.run_id,
                "context_key": ctx.context_key,
            }
        )
        return ActionResult(success=True, external_id=config.label)

    register_action(action_id, "Record", "Records its calls (tests).", "Tests", RecordConfig, run)
