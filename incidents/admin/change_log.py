"""An incident's change log as the read-only table on its change page."""

from __future__ import annotations

from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from checkstack.entities.models import Change

from ..entity import KIND, incident_handle


def change_log_table(incident_id: str) -> str:
    """Every change of the incident (seq, when, actor, fields, trigger events), with a link to
    the full change log when the entities admin is installed."""
    changes = incident_handle().history(incident_id).prefetch_related("trigger_events")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                change.seq,
                formats.localize(timezone.localtime(change.occurred_at)),
                actor_label(change.actor),
                describe_change(change),
                ", ".join(event.event for event in change.trigger_events.all()) or "-",
            )
            for change in changes
        ),
    )
    table = format_html(
        "<table><thead><tr><th>seq</th><th>when</th><th>actor</th><th>changes</th>"
        "<th>trigger events</th></tr></thead><tbody>{}</tbody></table>",
        rows or format_html('<tr><td colspan="5">No changes logged.</td></tr>'),
    )
    try:
        url = reverse("admin:entities_change_changelist")
    except NoReverseMatch:
        return table
    query = urlencode({"kind": KIND, "entity_id": incident_id})
    return format_html('{}<p><a href="{}?{}">Open in the change log</a></p>', table, url, query)


def actor_label(actor: dict[str, Any] | None) -> str:
    actor = actor or {}
    return str(actor.get("name") or actor.get("id") or "-")


def describe_change(change: Change) -> str:
    if change.next is None:
        return "deleted"
    prev = change.prev or {}
    parts = []
    for field in change.changed_fields:
        after = show_value(change.next.get(field))
        parts.append(
            f"{field}: {after}"
            if change.prev is None
            else f"{field}: {show_value(prev.get(field))} → {after}"
        )
    return "; ".join(parts)


def show_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "(none)"
    return "(none)" if value is None else str(value)
