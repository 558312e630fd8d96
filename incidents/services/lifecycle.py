"""Incident services: every write and query of incidents, their timeline and links.

Every write runs in one transaction through the ``incident`` entity (so it is locked, logged
and turned into trigger events when a reactive field changes) and sends ``incident_changed``
after commit. Bad input raises ``ValidationError`` (field → messages) and changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Case, IntegerField, Prefetch, QuerySet, Value, When
from django.utils import timezone

from checkstack import references
from checkstack.actors import ActorLike, to_actor, user_of
from checkstack.entities import advisory_lock
from checkstack.errors import Conflict, NotFound
from checkstack.signals import send_after_commit
from checkstack.validation import (
    UNSET,
    Errors,
    clean_choice,
    clean_id_list,
    clean_optional_text,
    clean_required_text,
)

from ..choices import Action, HealthOverride, Severity, Status, Visibility
from ..entity import IncidentState, incident_handle
from ..models import Incident, IncidentLink, IncidentSystem, IncidentUpdate
from ..signals import incident_changed

logger = logging.getLogger("checkstack.incidents")

MAX_TITLE = 200
MAX_LABEL = 120
MAX_URL = 2000
MAX_BULK = 500
RESOLVED_MESSAGE = "Incident resolved"
ORDERINGS = ("created_at", "-created_at", "updated_at", "-updated_at", "severity", "-severity")

_http_url = URLValidator(schemes=["http", "https"])
SEVERITY_RANK = Case(
    *(When(severity=value, then=Value(rank)) for rank, value in enumerate(Severity.values)),
    output_field=IntegerField(),
)


class Audience(StrEnum):
    """Who reads: decides which updates and links are visible."""

    PUBLIC = "public"
    LOGGED_IN = "logged_in"
    MANAGER = "manager"

    @property
    def visibilities(self) -> list[str]:
        if self is Audience.PUBLIC:
            return [Visibility.PUBLIC]
        if self is Audience.LOGGED_IN:
            return [Visibility.PUBLIC, Visibility.LOGGED_IN]
        return [Visibility.PUBLIC, Visibility.LOGGED_IN, Visibility.INTERNAL]


@dataclasses.dataclass(frozen=True)
class BulkResult:
    id: str
    status: str


# -- validation -------------------------------------------------------------------------------


def _clean_system_ids(errors: Errors, system_ids: Any) -> list[str]:
    ids = clean_id_list(errors, "system_ids", system_ids, min_items=1)
    return sorted(ids)


def _check_systems_exist(system_ids: list[str]) -> None:
    """Inside the write transaction: unknown ids → 400; known ones stay locked against deletes."""
    missing = references.lock_and_find_missing("system", system_ids)
    if missing:
        raise ValidationError({"system_ids": [f"Unknown system ids: {', '.join(missing)}."]})


def _clean_health_override(errors: Errors, value: Any) -> str | None:
    if value is None or value == "":
        return None
    return clean_choice(errors, "health_override", value, HealthOverride.values) or None


def _clean_bool(errors: Errors, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        errors.add(field, "Must be true or false.")
        return False
    return value


def _clean_url(errors: Errors, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        errors.add("url", "This field may not be blank.")
        return ""
    value = value.strip()
    if len(value) > MAX_URL:
        errors.add("url", f"Ensure this field has no more than {MAX_URL} characters.")
        return value
    try:
        _http_url(value)
    except ValidationError:
        errors.add("url", "Enter a valid http or https URL.")
    return value


def _clean_label(errors: Errors, value: Any) -> str | None:
    label = clean_optional_text(errors, "label", value)
    if label is not None and len(label) > MAX_LABEL:
        errors.add("label", f"Ensure this field has no more than {MAX_LABEL} characters.")
    return label


def _clean_bulk_ids(ids: Any) -> list[str]:
    errors = Errors()
    cleaned = clean_id_list(errors, "ids", ids, min_items=1, max_items=MAX_BULK)
    errors.raise_if_any()
    return cleaned


# -- helpers ----------------------------------------------------------------------------------


def _action_for(prev: IncidentState | None, next_: IncidentState | None) -> Action:
    if prev is None:
        return Action.CREATED
    if next_ is None:
        return Action.DELETED
    if next_.status == Status.RESOLVED and prev.status != Status.RESOLVED:
        return Action.RESOLVED
    if prev.status == Status.RESOLVED and next_.status != Status.RESOLVED:
        return Action.REOPENED
    return Action.UPDATED


def _notify(incident_id: str, prev: Any, next_: Any, actor: dict[str, Any]) -> None:
    state = next_ or prev
    send_after_commit(
        incident_changed,
        Incident,
        incident_id=incident_id,
        system_ids=list(state.systemIds) if state is not None else [],
        action=str(_action_for(prev, next_)),
        actor=actor,
    )


def _set_status(incident: Incident, status: str, now: Any) -> None:
    if status == Status.RESOLVED and incident.status != Status.RESOLVED:
        incident.resolved_at = now
    elif status != Status.RESOLVED:
        incident.resolved_at = None
    incident.status = status


def _rederive_status(incident: Incident, now: Any) -> None:
    """Status of the newest status-bearing update (created_at desc, id desc); none → unchanged."""
    newest = (
        IncidentUpdate.objects.filter(incident_id=incident.pk, status_change__isnull=False)
        .order_by("-created_at", "-id")
        .values_list("status_change", flat=True)
        .first()
    )
    if newest is not None:
        _set_status(incident, newest, now)


def _write(
    incident_id: str,
    change: Callable[[Incident, Any], Any],
    *,
    actor: dict[str, Any],
    run_id: str | None,
) -> Any:
    """Run ``change(incident, now)`` on the locked incident through the entity; its result."""
    result: dict[str, Any] = {}
    states: dict[str, Any] = {}

    def apply(prev: IncidentState | None) -> None:
        if prev is None:
            raise NotFound(f"Incident {incident_id} not found")
        states["prev"] = prev
        incident = Incident.objects.get(pk=incident_id)
        result["value"] = change(incident, timezone.now())

    with transaction.atomic():
        next_ = incident_handle().mutate(incident_id, apply, actor=actor, run_id=run_id)
        value = result.get("value")
        if isinstance(value, Unchanged):
            return value.value
        _notify(incident_id, states["prev"], next_, actor)
    return value


@dataclasses.dataclass(frozen=True)
class Unchanged:
    """Returned by a change that decided to write nothing: no signal is sent."""

    value: Any


# -- incidents ----------------------------------------------------------------------------------


def create_incident(
    *,
    title: str,
    system_ids: Iterable[str],
    severity: str = Severity.MAJOR,
    description: str | None = None,
    initial_message: str | None = None,
    suppress_notifications: bool = False,
    health_override: str | None = None,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    errors = Errors()
    title = clean_required_text(errors, "title", title, MAX_TITLE)
    severity = clean_choice(errors, "severity", severity, Severity.values)
    ids = _clean_system_ids(errors, list(system_ids) if system_ids is not None else None)
    description = clean_optional_text(errors, "description", description)
    initial_message = clean_optional_text(errors, "initial_message", initial_message)
    suppress_notifications = _clean_bool(errors, "suppress_notifications", suppress_notifications)
    health_override = _clean_health_override(errors, health_override)
    errors.raise_if_any()

    actor_data = to_actor(actor)
    incident = Incident(
        title=title,
        description=description,
        severity=severity,
        suppress_notifications=suppress_notifications,
        health_override=health_override,
    )

    def apply(prev: IncidentState | None) -> None:
        incident.save(force_insert=True)
        IncidentSystem.objects.bulk_create(
            [IncidentSystem(incident_id=incident.pk, system_id=s) for s in ids]
        )
        if initial_message is not None:
            IncidentUpdate.objects.create(
                incident_id=incident.pk,
                message=initial_message,
                status_change=Status.INVESTIGATING,
                visibility=Visibility.PUBLIC,
                created_at=incident.created_at,
                created_by=user_of(actor),
            )

    with transaction.atomic():
        _check_systems_exist(ids)
        next_ = incident_handle().mutate(incident.pk, apply, actor=actor_data, run_id=run_id)
        _notify(incident.pk, None, next_, actor_data)
    return incident


def create_deduped_for_system(
    system_id: str, *, actor: ActorLike = None, run_id: str | None = None, **fields: Any
) -> tuple[Incident, bool]:
    """The active incident linked to ``system_id`` (reused=True), or a new one.

    Serialized per system by an advisory lock, so concurrent calls create one incident.
    """
    with transaction.atomic(), advisory_lock(f"incident.dedupe-open-for-system:{system_id}"):
        existing = (
            Incident.objects.filter(systems__system_id=system_id)
            .exclude(status=Status.RESOLVED)
            .order_by("created_at", "id")
            .first()
        )
        if existing is not None:
            return existing, True
        system_ids = list(fields.pop("system_ids", None) or [system_id])
        if system_id not in system_ids:
            system_ids.insert(0, system_id)
        incident = create_incident(system_ids=system_ids, actor=actor, run_id=run_id, **fields)
        return incident, False


def update_incident(
    incident_id: str,
    *,
    title: Any = UNSET,
    description: Any = UNSET,
    severity: Any = UNSET,
    suppress_notifications: Any = UNSET,
    health_override: Any = UNSET,
    system_ids: Any = UNSET,
    status: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    errors = Errors()
    fields: dict[str, Any] = {}
    if status is not UNSET:
        errors.add(
            "status",
            "Status cannot be changed here; add a timeline update with a status_change "
            "(or resolve the incident).",
        )
    if title is not UNSET:
        fields["title"] = clean_required_text(errors, "title", title, MAX_TITLE)
    if description is not UNSET:
        fields["description"] = clean_optional_text(errors, "description", description)
    if severity is not UNSET:
        fields["severity"] = clean_choice(errors, "severity", severity, Severity.values)
    if suppress_notifications is not UNSET:
        fields["suppress_notifications"] = _clean_bool(
            errors, "suppress_notifications", suppress_notifications
        )
    if health_override is not UNSET:
        fields["health_override"] = _clean_health_override(errors, health_override)
    ids: list[str] | None = None
    if system_ids is not UNSET:
        ids = _clean_system_ids(errors, system_ids)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> Incident:
        for field, value in fields.items():
            setattr(incident, field, value)
        incident.updated_at = now
        incident.save()
        if ids is not None:
            IncidentSystem.objects.filter(incident_id=incident.pk).exclude(
                system_id__in=ids
            ).delete()
            IncidentSystem.objects.bulk_create(
                [IncidentSystem(incident_id=incident.pk, system_id=s) for s in ids],
                ignore_conflicts=True,
            )
        return incident

    with transaction.atomic():
        if ids is not None:
            _check_systems_exist(ids)
        return _write(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def resolve_incident(
    incident_id: str,
    *,
    message: str | None = None,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> Incident:
    """Resolve with a timeline update; an already resolved incident is left as it is."""
    errors = Errors()
    message = clean_optional_text(errors, "message", message)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> Any:
        if incident.status == Status.RESOLVED:
            return Unchanged(incident)
        IncidentUpdate.objects.create(
            incident_id=incident.pk,
            message=message or RESOLVED_MESSAGE,
            status_change=Status.RESOLVED,
            visibility=Visibility.PUBLIC,
            created_at=now,
            created_by=user_of(actor),
        )
        _set_status(incident, Status.RESOLVED, now)
        incident.updated_at = now
        incident.save()
        return incident

    return _write(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def delete_incident(
    incident_id: str, *, actor: ActorLike = None, run_id: str | None = None
) -> None:
    actor_data = to_actor(actor)
    states: dict[str, Any] = {}

    def apply(prev: IncidentState | None) -> None:
        if prev is None:
            raise NotFound(f"Incident {incident_id} not found")
        states["prev"] = prev
        Incident.objects.filter(pk=incident_id).delete()

    with transaction.atomic():
        incident_handle().remove(str(incident_id), apply, actor=actor_data, run_id=run_id)
        _notify(str(incident_id), states["prev"], None, actor_data)


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


# -- timeline ---------------------------------------------------------------------------------


def add_update(
    incident_id: str,
    *,
    message: str,
    status_change: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> IncidentUpdate:
    errors = Errors()
    message = clean_required_text(errors, "message", message, max_length=100_000)
    if status_change is not None:
        status_change = clean_choice(errors, "status_change", status_change, Status.values)
    visibility = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> IncidentUpdate:
        update = IncidentUpdate.objects.create(
            incident_id=incident.pk,
            message=message,
            status_change=status_change,
            visibility=visibility,
            created_at=now,
            created_by=user_of(actor),
        )
        if status_change is not None:
            _set_status(incident, status_change, now)
        incident.updated_at = now
        incident.save()
        return update

    return _write(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def _get_update(incident_id: str, update_id: str) -> IncidentUpdate:
    update = IncidentUpdate.objects.filter(pk=update_id, incident_id=incident_id).first()
    if update is None:
        raise NotFound(f"Update {update_id} of incident {incident_id} not found")
    return update


def edit_update(
    incident_id: str,
    update_id: str,
    *,
    message: Any = UNSET,
    status_change: Any = UNSET,
    visibility: Any = UNSET,
    created_at: Any = UNSET,
    actor: ActorLike = None,
    run_id: str | None = None,
) -> IncidentUpdate:
    """Edit the provided fields that really differ; history keeps the pre-edit values."""
    errors = Errors()
    wanted: dict[str, Any] = {}
    if message is not UNSET:
        wanted["message"] = clean_required_text(errors, "message", message, max_length=100_000)
    if status_change is not UNSET and status_change is not None:
        wanted["status_change"] = clean_choice(
            errors, "status_change", status_change, Status.values
        )
    elif status_change is None:
        wanted["status_change"] = None
    if visibility is not UNSET:
        wanted["visibility"] = clean_choice(errors, "visibility", visibility, Visibility.values)
    if created_at is not UNSET:
        if not hasattr(created_at, "tzinfo") or created_at.tzinfo is None:
            errors.add("created_at", "Must be a timezone-aware date and time.")
        else:
            wanted["created_at"] = created_at
    errors.raise_if_any()
    if not wanted:
        return _get_update(incident_id, update_id)

    def change(incident: Incident, now: Any) -> IncidentUpdate | Unchanged:
        update = _get_update(incident.pk, update_id)
        differing = {f: v for f, v in wanted.items() if getattr(update, f) != v}
        if not differing:
            return Unchanged(update)
        update.edit_history = [
            *update.edit_history,
            {
                "message": update.message,
                "status_change": update.status_change,
                "visibility": update.visibility,
                "created_at": update.created_at.isoformat(),
                "edited_at": update.edited_at.isoformat() if update.edited_at else None,
            },
        ]
        for field, value in differing.items():
            setattr(update, field, value)
        update.edited_at = now
        update.save()
        if "status_change" in wanted or "created_at" in differing:
            _rederive_status(incident, now)
        incident.updated_at = now
        incident.save()
        return update

    return _write(str(incident_id), change, actor=to_actor(actor), run_id=run_id)  # type: ignore[no-any-return]


def delete_update(
    incident_id: str, update_id: str, *, actor: ActorLike = None, run_id: str | None = None
) -> None:
    def change(incident: Incident, now: Any) -> None:
        update = _get_update(incident.pk, update_id)
        had_status = update.status_change is not None
        update.delete()
        if had_status:
            _rederive_status(incident, now)
        incident.updated_at = now
        incident.save()

    _write(str(incident_id), change, actor=to_actor(actor), run_id=run_id)


# -- links ------------------------------------------------------------------------------------


def _get_link(incident_id: str, link_id: str) -> IncidentLink:
    link = IncidentLink.objects.filter(pk=link_id, incident_id=incident_id).first()
    if link is None:
        raise NotFound(f"Link {link_id} of incident {incident_id} not found")
    return link


def _refuse_duplicate_url(incident_id: str, url: str, *, except_link: str | None = None) -> None:
    duplicates = IncidentLink.objects.filter(incident_id=incident_id, url=url)
    if except_link is not None:
        duplicates = duplicates.exclude(pk=except_link)
    if duplicates.exists():
        raise Conflict(f"The incident already has a link to {url}.")


def add_link(
    incident_id: str,
    *,
    url: str,
    label: str | None = None,
    visibility: str = Visibility.PUBLIC,
    actor: ActorLike = None,
) -> IncidentLink:
    errors = Errors()
    url = _clean_url(errors, url)
    label = _clean_label(errors, label)
    visibility = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> IncidentLink:
        _refuse_duplicate_url(incident.pk, url)
        incident.updated_at = now
        incident.save(update_fields=["updated_at"])
        return IncidentLink.objects.create(
            incident_id=incident.pk, url=url, label=label, visibility=visibility, created_at=now
        )

    return _write(str(incident_id), change, actor=to_actor(actor), run_id=None)  # type: ignore[no-any-return]


def update_link(
    incident_id: str,
    link_id: str,
    *,
    url: Any = UNSET,
    label: Any = UNSET,
    visibility: Any = UNSET,
    actor: ActorLike = None,
) -> IncidentLink:
    errors = Errors()
    fields: dict[str, Any] = {}
    if url is not UNSET:
        fields["url"] = _clean_url(errors, url)
    if label is not UNSET:
        if label is None or (isinstance(label, str) and not label.strip()):
            errors.add("label", "The label cannot be removed, only changed.")
        else:
            fields["label"] = _clean_label(errors, label)
    if visibility is not UNSET:
        fields["visibility"] = clean_choice(errors, "visibility", visibility, Visibility.values)
    errors.raise_if_any()

    def change(incident: Incident, now: Any) -> IncidentLink:
        link = _get_link(incident.pk, link_id)
        if "url" in fields:
            _refuse_duplicate_url(incident.pk, fields["url"], except_link=link.pk)
        for field, value in fields.items():
            setattr(link, field, value)
        link.save()
        incident.updated_at = now
        incident.save(update_fields=["updated_at"])
        return link

    return _write(str(incident_id), change, actor=to_actor(actor), run_id=None)  # type: ignore[no-any-return]


def remove_link(incident_id: str, link_id: str, *, actor: ActorLike = None) -> None:
    def change(incident: Incident, now: Any) -> None:
        _get_link(incident.pk, link_id).delete()
        incident.updated_at = now
        incident.save(update_fields=["updated_at"])

    _write(str(incident_id), change, actor=to_actor(actor), run_id=None)


# -- catalog cleanup --------------------------------------------------------------------------


def remove_system_from_incidents(system_id: str) -> list[str]:
    """Drop ``system_id`` from every incident linking it, each through the entity (system actor).

    Incidents left without systems are kept. Returns the affected incident ids.
    """
    affected = list(
        IncidentSystem.objects.filter(system_id=system_id)
        .order_by("incident_id")
        .values_list("incident_id", flat=True)
        .distinct()
    )
    for incident_id in affected:

        def change(incident: Incident, now: Any) -> None:
            IncidentSystem.objects.filter(incident_id=incident.pk, system_id=system_id).delete()
            incident.updated_at = now
            incident.save(update_fields=["updated_at"])

        try:
            _write(incident_id, change, actor=to_actor(None), run_id=None)
        except NotFound:
            continue  # deleted meanwhile
    return affected


# -- queries ----------------------------------------------------------------------------------


def list_incidents(
    *,
    status: str | None = None,
    include_resolved: bool = False,
    system_id: str | None = None,
    severity: str | None = None,
    search: str | None = None,
    ordering: str = "-updated_at",
) -> QuerySet[Incident]:
    incidents = Incident.objects.prefetch_related(
        Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id"))
    )
    if status:
        incidents = incidents.filter(status=status)
    elif not include_resolved:
        incidents = incidents.exclude(status=Status.RESOLVED)
    if system_id:
        incidents = incidents.filter(systems__system_id=system_id)
    if severity:
        incidents = incidents.filter(severity=severity)
    if search and search.strip():
        incidents = incidents.filter(title__icontains=search.strip())
    if ordering not in ORDERINGS:
        raise ValidationError({"ordering": [f"Use one of: {', '.join(ORDERINGS)}."]})
    if ordering.lstrip("-") == "severity":
        # By rank (minor < major < critical), not alphabetically.
        incidents = incidents.annotate(severity_rank=SEVERITY_RANK)
        ordering = ordering.replace("severity", "severity_rank")
    return incidents.order_by(ordering, "id")


def get_incident(incident_id: str, *, audience: Audience = Audience.MANAGER) -> Incident:
    """The incident with its systems, and the updates and links ``audience`` may see."""
    visible = audience.visibilities
    incident = (
        Incident.objects.prefetch_related(
            Prefetch("systems", queryset=IncidentSystem.objects.order_by("system_id")),
            Prefetch(
                "updates",
                queryset=IncidentUpdate.objects.filter(visibility__in=visible)
                .select_related("created_by")
                .order_by("created_at", "id"),
            ),
            Prefetch(
                "links",
                queryset=IncidentLink.objects.filter(visibility__in=visible).order_by(
                    "created_at", "id"
                ),
            ),
        )
        .filter(pk=incident_id)
        .first()
    )
    if incident is None:
        raise NotFound(f"Incident {incident_id} not found")
    return incident


def active_incidents_for_system(system_id: str) -> QuerySet[Incident]:
    return list_incidents(system_id=system_id)


def active_incidents_by_system(system_ids: Iterable[str]) -> dict[str, list[Incident]]:
    ids = list(dict.fromkeys(system_ids))
    grouped: dict[str, list[Incident]] = {i: [] for i in ids}
    links = (
        IncidentSystem.objects.filter(system_id__in=ids)
        .exclude(incident__status=Status.RESOLVED)
        .select_related("incident")
        .order_by("incident__created_at", "incident_id")
    )
    for link in links:
        grouped[link.system_id].append(link.incident)
    return grouped


def get_many_entity_states(ids: Iterable[str]) -> dict[str, IncidentState]:
    return incident_handle().get_many(ids)


def has_active_incident_with_suppression(system_id: str) -> bool:
    return (
        Incident.objects.filter(systems__system_id=system_id, suppress_notifications=True)
        .exclude(status=Status.RESOLVED)
        .exists()
    )


def get_active_health_overrides(
    system_ids: Iterable[str],
) -> dict[str, list[dict[str, str | None]]]:
    """``{system_id: [{status, incident_id, incident_title}]}`` for active incidents with one."""
    ids = list(dict.fromkeys(system_ids))
    overrides: dict[str, list[dict[str, str | None]]] = {}
    rows = (
        IncidentSystem.objects.filter(system_id__in=ids, incident__health_override__isnull=False)
        .exclude(incident__status=Status.RESOLVED)
        .order_by("system_id", "incident__created_at", "incident_id")
        .values_list("system_id", "incident__health_override", "incident_id", "incident__title")
    )
    for system_id, override, incident_id, title in rows:
        overrides.setdefault(system_id, []).append(
            {"status": override, "incident_id": incident_id, "incident_title": title}
        )
    return overrides
