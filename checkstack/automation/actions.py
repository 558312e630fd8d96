"""The engine's built-in ``automation.wait_for_trigger`` action (``webhook.send`` is in
``checkstack.automation.webhooks.action``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .registry import ActionContext, ActionResult, register_action

WAIT_FOR_TRIGGER = "automation.wait_for_trigger"


class WaitForTriggerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, description="The trigger id to wait for.")
    context_key: str | None = Field(
        default=None, description="The context key to match (template); default the run's."
    )
    timeout_seconds: int = Field(ge=1, le=30 * 24 * 3600)
    continue_on_timeout: bool = False


def _run_wait_for_trigger(ctx: ActionContext, config: WaitForTriggerConfig) -> ActionResult:
    # The engine suspends the run itself (checkstack.automation.runs); never called directly.
    return ActionResult(success=False, error="wait_for_trigger runs only inside the engine")


def register_wait_action() -> None:
    register_action(
        WAIT_FOR_TRIGGER,
        "Wait for trigger",
        "Suspend the run until a trigger event with this id and context key arrives; "
        "its payload is then available as resume.payload.",
        "Automation",
        WaitForTriggerConfig,
        _run_wait_for_trigger,
    )
