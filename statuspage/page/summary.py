"""``summary.json`` in the shape of Atlassian Statuspage's ``/api/v2/summary.json``.

``page``, ``status`` (indicator and description), ``components`` (groups are components with
``group: true`` and the ids of their ``components``; a system in several groups names the first
as its ``group_id``), the unresolved ``incidents`` and the running and upcoming
``scheduled_maintenances``, each with its visible updates. Statuses use Statuspage's words: our
``fixing`` is reported as ``identified``, which Statuspage has no finer word for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils.text import slugify

from incidents.models import Incident
from statuspage.models import Maintenance

from .queries import Overview

INCIDENT_STATUSES = {"fixing": "identified"}

Link = Callable[[str, tuple[str, ...]], str]


def stamp(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def summary(page: Overview, *, title: str, url: str, link: Link) -> dict[str, Any]:
    """The document; ``link(url_name, args)`` gives the absolute URL of a page."""
    page_id = slugify(title) or "status"
    return {
        "page": {
            "id": page_id,
            "name": title,
            "url": url,
            "time_zone": "Etc/UTC",
            "updated_at": stamp(page.updated_at),
        },
        "status": {"indicator": page.indicator, "description": page.description},
        "components": components(page, page_id),
        "incidents": [incident(card.item, page, page_id, link) for card in page.incidents],
        "scheduled_maintenances": [
            maintenance(card.item, page, page_id) for card in page.maintenances
        ],
    }


def components(page: Overview, page_id: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    for position, group in enumerate(page.catalog.groups, start=1):
        if group.id is not None:
            listed.append(
                {
                    "id": group.id,
                    "name": group.name,
                    "status": group.status.value,
                    "created_at": stamp(group.created_at),
                    "updated_at": stamp(group.updated_at),
                    "position": position,
                    "description": None,
                    "group_id": None,
                    "page_id": page_id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "showcase": True,
                    "components": [system.id for system in group.systems],
                }
            )
    for position, system in enumerate(page.catalog.systems, start=1):
        listed.append(
            {
                "id": system.id,
                "name": system.name,
                "status": system.status.value,
                "created_at": stamp(system.created_at),
                "updated_at": stamp(system.updated_at),
                "position": position,
                "description": system.description,
                "group_id": system.group_ids[0] if system.group_ids else None,
                "page_id": page_id,
                "group": False,
                "only_show_if_degraded": False,
                "showcase": True,
            }
        )
    return listed


def affected(system_ids: list[str], page: Overview, page_id: str) -> list[dict[str, Any]]:
    statuses = {s.id: s.status.value for s in page.catalog.systems}
    return [
        {
            "id": system_id,
            "name": page.system_names.get(system_id, system_id),
            "status": statuses.get(system_id, "operational"),
            "page_id": page_id,
        }
        for system_id in system_ids
    ]


def incident(item: Incident, page: Overview, page_id: str, link: Link) -> dict[str, Any]:
    system_ids = [s.system_id for s in item.systems.all()]
    updates = list(item.updates.all())  # newest first, as Statuspage lists them
    return {
        "id": item.pk,
        "name": item.title,
        "status": INCIDENT_STATUSES.get(item.status, item.status),
        "created_at": stamp(item.created_at),
        "updated_at": stamp(item.updated_at),
        "monitoring_at": stamp(
            next((u.created_at for u in updates if u.status_change == "monitoring"), None)
        ),
        "resolved_at": stamp(item.resolved_at),
        "impact": item.severity,
        "shortlink": link("statuspage:incident", (item.pk,)),
        "started_at": stamp(item.created_at),
        "page_id": page_id,
        "incident_updates": [
            {
                "id": update.pk,
                "status": INCIDENT_STATUSES.get(status, status),
                "body": update.message,
                "incident_id": item.pk,
                "created_at": stamp(update.created_at),
                "updated_at": stamp(update.edited_at or update.created_at),
                "display_at": stamp(update.created_at),
            }
            for update, status in zip(updates, statuses_at(updates), strict=True)
        ],
        "components": affected(system_ids, page, page_id),
    }


def statuses_at(updates: list[Any]) -> list[str]:
    """The status the incident had at each update (newest first), the updates without a
    status change taking the one before them."""
    statuses: list[str] = []
    current = "investigating"
    for update in reversed(updates):
        current = update.status_change or current
        statuses.append(current)
    return statuses[::-1]


def maintenance(item: Maintenance, page: Overview, page_id: str) -> dict[str, Any]:
    system_ids = [s.system_id for s in item.systems.all()]
    return {
        "id": item.pk,
        "name": item.title,
        "status": item.status,
        "created_at": stamp(item.created_at),
        "updated_at": stamp(item.updated_at),
        "monitoring_at": None,
        "resolved_at": stamp(item.finished_at),
        "impact": "maintenance",
        "started_at": stamp(item.started_at),
        "scheduled_for": stamp(item.starts_at),
        "scheduled_until": stamp(item.ends_at),
        "page_id": page_id,
        "incident_updates": [
            {
                "id": update.pk,
                "status": update.status_change or item.status,
                "body": update.message,
                "incident_id": item.pk,
                "created_at": stamp(update.created_at),
                "updated_at": stamp(update.created_at),
                "display_at": stamp(update.created_at),
            }
            for update in reversed(list(item.updates.all()))
        ],
        "components": affected(system_ids, page, page_id),
    }
