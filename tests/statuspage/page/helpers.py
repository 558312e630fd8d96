"""Helpers of the public page tests: incidents of every visibility, and reading pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.models import Incident
from statuspage.maintenance import services as maintenance
from statuspage.models import Maintenance

VISIBILITIES = ("public", "logged_in", "internal")
# What each client may see on the page: managers see what logged-in users see.
SEES = {
    "anon": {"public"},
    "user_client": {"public", "logged_in"},
    "manager_client": {"public", "logged_in"},
}


def incident_with_timeline(
    visibility: str, *, system_ids: tuple[str, ...] = ("db",), **fields: Any
) -> Incident:
    """An incident titled ``<visibility>-incident`` with one update of each visibility, whose
    messages are ``<incident visibility>-incident <update visibility>-update``."""
    fields.setdefault("severity", "major")
    incident = services.create_incident(
        title=f"{visibility}-incident",
        system_ids=list(system_ids),
        visibility=visibility,
        **fields,
    )
    for update_visibility in VISIBILITIES:
        services.add_update(
            incident.pk,
            message=f"{visibility}-incident {update_visibility}-update",
            visibility=update_visibility,
        )
    return incident


def running_maintenance(visibility: str, *, system_ids: tuple[str, ...] = ("db",)) -> Maintenance:
    """A maintenance in progress titled ``<visibility>-maintenance``, with one update of each
    visibility (``<visibility>-maintenance <update visibility>-note``)."""
    now = timezone.now()
    item = maintenance.create_maintenance(
        title=f"{visibility}-maintenance",
        system_ids=list(system_ids),
        starts_at=now + dt.timedelta(minutes=5),
        ends_at=now + dt.timedelta(hours=2),
        visibility=visibility,
    )
    maintenance.start_maintenance(item.pk)
    for update_visibility in VISIBILITIES:
        maintenance.add_update(
            item.pk,
            message=f"{visibility}-maintenance {update_visibility}-note",
            visibility=update_visibility,
        )
    return item


def text(client: Client, path: str, **params: Any) -> str:
    response = client.get(path, params)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()
