"""Bulk operations: resolve or delete many incidents, each in its own transaction."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from checkstack.actors import ActorLike
from checkstack.errors import NotFound
from checkstack.validation import Errors, clean_id_list

from ..choices import Status
from ..models import Incident
from .lifecycle import delete_incident, resolve_incident

logger = logging.getLogger("checkstack.incidents")

MAX_BULK = 500


@dataclasses.dataclass(frozen=True)
class BulkResult:
    id: str
    status: str


def bulk_resolve(
    ids: Any,
    *,
    message: str | None = None,
    actor: ActorLike = None,
    allow: Callable[[Incident], bool] | None = None,
) -> list[BulkResult]:
    """Resolve each id in its own transaction; one result per id, in input order."""

    def resolve_one(incident: Incident) -> str:
        if incident.status == Status.RESOLVED:
            return "unchanged"
        resolved = resolve_incident(incident.pk, message=message, actor=actor)
        return "resolved" if resolved.status == Status.RESOLVED else "unchanged"

    return _bulk(ids, resolve_one, allow)


def bulk_delete(
    ids: Any, *, actor: ActorLike = None, allow: Callable[[Incident], bool] | None = None
) -> list[BulkResult]:
    def delete_one(incident: Incident) -> str:
        delete_incident(incident.pk, actor=actor)
        return "deleted"

    return _bulk(ids, delete_one, allow)


def _clean_bulk_ids(ids: Any) -> list[str]:
    errors = Errors()
    cleaned = clean_id_list(errors, "ids", ids, min_items=1, max_items=MAX_BULK)
    errors.raise_if_any()
    return cleaned


def _bulk(
    ids: Any, run: Callable[[Incident], str], allow: Callable[[Incident], bool] | None
) -> list[BulkResult]:
    cleaned = _clean_bulk_ids(ids)
    incidents = Incident.objects.in_bulk(cleaned)
    results = []
    for incident_id in cleaned:
        incident = incidents.get(incident_id)
        if incident is None:
            results.append(BulkResult(incident_id, "not_found"))
            continue
        if allow is not None and not allow(incident):
            results.append(BulkResult(incident_id, "forbidden"))
            continue
        try:
            status = run(incident)
        except NotFound:
            status = "not_found"
        except Exception:
            logger.exception("Bulk operation failed for incident %s", incident_id)
            status = "error"
        results.append(BulkResult(incident_id, status))
    return results
