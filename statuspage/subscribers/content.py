"""What a notification says: the public data of its incident or maintenance, read when it is
sent (public updates only; an item no longer public is not told at all)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.urls import reverse

from checkstack.errors import NotFound
from incidents.services import Audience, get_incident
from statuspage.maintenance.services import get_maintenance
from statuspage.models import Notification

from . import topics
from .choices import Event
from .events import INCIDENT, PUBLIC
from .mail import site_link

SUBJECTS = {
    Event.INCIDENT_CREATED: "Incident: {title}",
    Event.INCIDENT_UPDATED: "Update: {title}",
    Event.INCIDENT_RESOLVED: "Resolved: {title}",
    Event.MAINTENANCE_SCHEDULED: "Scheduled maintenance: {title}",
    Event.MAINTENANCE_STARTED: "Maintenance in progress: {title}",
    Event.MAINTENANCE_COMPLETED: "Maintenance completed: {title}",
    Event.MAINTENANCE_CANCELLED: "Maintenance cancelled: {title}",
}


@dataclasses.dataclass(frozen=True)
class Content:
    event: Event
    subject: str
    context: dict[str, Any]

    @property
    def text(self) -> str:
        """One plain paragraph (chat messages): the subject, the newest message, the link."""
        parts = [self.subject]
        if self.context.get("update"):
            parts.append(self.context["update"]["message"])
        parts.append(self.context["url"])
        return "\n".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The body of a webhook notification."""
        return {"type": self.event.value, "subject": self.subject, "data": self.context}


def _update(update: Any) -> dict[str, Any]:
    return {
        "message": update.message,
        "status_change": update.status_change,
        "status_label": update.get_status_change_display() if update.status_change else "",
        "created_at": update.created_at.isoformat(),
    }


def _incident(notification: Notification, event: Event) -> Content | None:
    try:
        incident = get_incident(notification.subject_id, audience=Audience.PUBLIC)
    except NotFound:
        return None
    if incident.suppress_notifications:
        return None
    updates = list(incident.updates.all())
    update = None
    if notification.update_id:
        update = next((u for u in updates if u.pk == notification.update_id), None)
        if update is None:  # deleted or made non-public since
            return None
    elif updates:
        update = updates[-1]
    context = {
        "kind": INCIDENT,
        "id": incident.pk,
        "title": incident.title,
        "status": incident.status,
        "status_label": incident.get_status_display(),
        "systems": topics.system_names(s.system_id for s in incident.systems.all()),
        "update": _update(update) if update is not None else None,
        "updates": [_update(u) for u in reversed(updates)],
        "url": site_link(reverse("statuspage:incident", args=[incident.pk])),
    }
    return Content(event, SUBJECTS[event].format(title=incident.title), context)


def _maintenance(notification: Notification, event: Event) -> Content | None:
    try:
        maintenance = get_maintenance(notification.subject_id, visibilities=PUBLIC)
    except NotFound:
        return None
    updates = list(maintenance.updates.all())
    context = {
        "kind": "maintenance",
        "id": maintenance.pk,
        "title": maintenance.title,
        "description": maintenance.description,
        "status": maintenance.status,
        "status_label": maintenance.get_status_display(),
        "starts_at": maintenance.starts_at.isoformat(),
        "ends_at": maintenance.ends_at.isoformat(),
        "systems": topics.system_names(s.system_id for s in maintenance.systems.all()),
        "update": _update(updates[-1]) if updates else None,
        "updates": [_update(u) for u in reversed(updates)],
        "url": site_link(reverse("statuspage:index")),
    }
    return Content(event, SUBJECTS[event].format(title=maintenance.title), context)


def content_for(notification: Notification) -> Content | None:
    """The content of ``notification``'s event, or None: its item is gone or not public."""
    event = Event(notification.event)
    if notification.subject_type == INCIDENT:
        return _incident(notification, event)
    return _maintenance(notification, event)
