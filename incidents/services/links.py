"""An incident's links: adding, changing and removing them (one link per URL)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from checkstack.actors import ActorLike, to_actor
from checkstack.errors import Conflict, NotFound
from checkstack.validation import UNSET, Errors, clean_choice, clean_optional_text

from ..choices import Visibility
from ..models import Incident, IncidentLink
from .writes import write_incident

MAX_LABEL = 120
MAX_URL = 2000

_http_url = URLValidator(schemes=["http", "https"])


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

    return write_incident(str(incident_id), change, actor=to_actor(actor), run_id=None)  # type: ignore[no-any-return]


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

    return write_incident(str(incident_id), change, actor=to_actor(actor), run_id=None)  # type: ignore[no-any-return]


def remove_link(incident_id: str, link_id: str, *, actor: ActorLike = None) -> None:
    def change(incident: Incident, now: Any) -> None:
        _get_link(incident.pk, link_id).delete()
        incident.updated_at = now
        incident.save(update_fields=["updated_at"])

    write_incident(str(incident_id), change, actor=to_actor(actor), run_id=None)
