"""Helpers of the REST API tests: users, catalog systems, incidents with timelines, requests."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from catalog import services as catalog
from checkstack.entities.models import Change
from incidents import services
from incidents.models import Incident, IncidentLink, IncidentUpdate

VISIBILITIES = ("public", "logged_in", "internal")


def make_user(username: str, **fields: Any) -> Any:
    return get_user_model().objects.create_user(username=username, password="pw-12345", **fields)


def make_systems(*system_ids: str) -> list[str]:
    """Catalog systems with the given slug ids (named after them, upper-case)."""
    for system_id in system_ids:
        catalog.create_system(id=system_id, name=system_id.upper())
    return list(system_ids)


def make_incident(system_ids: tuple[str, ...] | list[str] = ("db",), **fields: Any) -> Incident:
    fields.setdefault("title", "Database down")
    return services.create_incident(system_ids=list(system_ids), **fields)


def add_timeline(incident: Incident, *, actor: Any = None) -> dict[str, tuple[str, str]]:
    """One update and one link per visibility; ``{visibility: (update_id, link_id)}``."""
    made = {}
    for visibility in VISIBILITIES:
        update = services.add_update(
            incident.pk, message=f"{visibility} note", visibility=visibility, actor=actor
        )
        link = services.add_link(
            incident.pk,
            url=f"https://status.example.com/{visibility}",
            label=f"{visibility} link",
            visibility=visibility,
        )
        made[visibility] = (update.pk, link.pk)
    return made


def post(client: APIClient, path: str, body: Any) -> Any:
    return client.post(path, body, format="json")


def patch(client: APIClient, path: str, body: Any) -> Any:
    return client.patch(path, body, format="json")


def raw(client: APIClient, method: str, path: str, text: str) -> Any:
    """A request with a hand-written (possibly malformed) JSON body."""
    return client.generic(method, path, text, content_type="application/json")


def change_count(kind: str, entity_id: str) -> int:
    return Change.objects.filter(kind=kind, entity_id=entity_id).count()


def update_count(incident_id: str) -> int:
    return IncidentUpdate.objects.filter(incident_id=incident_id).count()


def link_count(incident_id: str) -> int:
    return IncidentLink.objects.filter(incident_id=incident_id).count()


def body(response: Any) -> Any:
    return json.loads(response.content) if response.content else None
