"""An incident-shaped test entity ``widget``: {status, severity, tagIds, note} over Widget rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from checkstack.entities import EntityChange, define_entity, register_change_deriver
from checkstack.entities.handle import EntityHandle

from .models import Widget, WidgetTag

STATUSES = ("open", "acknowledged", "closed")


class WidgetState(BaseModel):
    status: str
    severity: str
    tagIds: list[str] = Field(default_factory=list)
    note: str | None = None

    def model_post_init(self, __context: Any) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")


def read_widgets(ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    states: dict[str, dict[str, Any]] = {
        w["id"]: {
            "status": w["status"],
            "severity": w["severity"],
            "tagIds": [],
            "note": w["secret_note"] or None,
        }
        for w in Widget.objects.filter(id__in=ids).values("id", "status", "severity", "secret_note")
    }
    for widget_id, tag in (
        WidgetTag.objects.filter(widget_id__in=list(states))
        .order_by("tag")
        .values_list("widget_id", "tag")
    ):
        states[widget_id]["tagIds"].append(tag)
    return states


class WidgetEventPayload(BaseModel):
    widgetId: str
    status: str
    severity: str
    tagIds: list[str]
    statusChange: str | None = None


def derive_widget_events(change: EntityChange) -> list[str]:
    if change.prev is None:
        return ["widget.created"]
    if change.next is None:
        return ["widget.deleted"]
    if change.next.get("status") == "closed" and change.prev.get("status") != "closed":
        return ["widget.closed"]
    return ["widget.updated"]


def widget_payload(change: EntityChange) -> Mapping[str, Any]:
    state = change.next or change.prev or {}
    payload: dict[str, Any] = {
        "widgetId": change.entity_id,
        "status": state.get("status"),
        "severity": state.get("severity"),
        "tagIds": state.get("tagIds") or [],
    }
    if "status" in change.changed_fields:
        payload["statusChange"] = state.get("status")
    return payload


WIDGET_TRIGGERS = ("widget.created", "widget.updated", "widget.closed", "widget.deleted")


def register_widget_entity() -> EntityHandle[WidgetState]:
    """Define the ``widget`` kind, its triggers and deriver (call inside an isolated registry)."""
    from checkstack.automation import register_trigger

    for trigger_id in WIDGET_TRIGGERS:
        register_trigger(
            trigger_id,
            trigger_id,
            f"Test trigger {trigger_id}",
            "Tests",
            WidgetEventPayload,
            context_key=lambda p: p["widgetId"],
        )
    handle = define_entity(kind="widget", state=WidgetState, read=read_widgets)
    register_change_deriver("widget", derive_widget_events, widget_payload, emits=WIDGET_TRIGGERS)
    return handle


def create_widget(
    handle: EntityHandle[WidgetState], widget_id: str, *, tags: list[str] = (), **fields: Any
) -> Any:
    def apply(prev: Any) -> None:
        Widget.objects.create(id=widget_id, **fields)
        WidgetTag.objects.bulk_create([WidgetTag(widget_id=widget_id, tag=t) for t in tags])

    return handle.mutate(widget_id, apply)
