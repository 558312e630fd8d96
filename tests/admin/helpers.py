"""Helpers of the admin tests: what a browser would submit, and the change log to compare."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.http import HttpResponse
from django.test import Client

from catalog import services as catalog
from checkstack.entities.models import Change

SKIPPED_INPUTS = {"submit", "button", "image", "reset", "file"}


class FormControls(HTMLParser):
    """The name/value pairs a browser submits for the form with id ``form_id``.

    Inline template rows (``__prefix__``) are left out: Django ignores them anyway.
    """

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.pairs: list[tuple[str, str]] = []
        self._select: tuple[str, bool] | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def _keep(self, name: str | None) -> bool:
        return bool(name) and "__prefix__" not in str(name)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value for key, value in attrs}
        if tag == "form":
            self.inside = attr.get("id") == self.form_id
            return
        if not self.inside:
            return
        name = attr.get("name")
        if tag == "input" and self._keep(name):
            kind = (attr.get("type") or "text").lower()
            if kind in SKIPPED_INPUTS:
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attr:
                    self.pairs.append((str(name), attr.get("value") or "on"))
                return
            self.pairs.append((str(name), attr.get("value") or ""))
        elif tag == "select" and self._keep(name):
            self._select = (str(name), "multiple" in attr)
            self._options = []
        elif tag == "option" and self._select is not None:
            self._options.append((attr.get("value") or "", "selected" in attr))
        elif tag == "textarea" and self._keep(name):
            self._textarea = str(name)
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            name, multiple = self._select
            chosen = [value for value, selected in self._options if selected]
            if not chosen and not multiple and self._options:
                chosen = [self._options[0][0]]  # a browser submits the first option
            self.pairs.extend((name, value) for value in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # Browsers drop the newline right after <textarea>; Django renders one.
            text = self._text[1:] if self._text.startswith("\n") else self._text
            self.pairs.append((self._textarea, text))
            self._textarea = None


def form_data(client: Client, url: str, form_id: str) -> dict[str, Any]:
    """GET ``url`` and return what submitting its form unchanged would POST."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    parser = FormControls(form_id)
    parser.feed(response.content.decode())
    data: dict[str, Any] = {}
    for name, value in parser.pairs:
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    assert data, f"no form {form_id!r} on {url}"
    return data


def first_extra_row(data: dict[str, Any], prefix: str) -> str:
    """The prefix of the first blank inline row of ``prefix`` (e.g. "updates-2")."""
    return f"{prefix}-{int(data[f'{prefix}-INITIAL_FORMS'])}"


def form_errors(response: HttpResponse) -> dict[str, Any]:
    """Errors of the re-rendered admin form: main form, inline rows and inline formsets."""
    context = response.context  # type: ignore[attr-defined]
    errors: dict[str, Any] = {}
    form = context["adminform"].form
    if form.errors:
        errors[""] = {field: list(messages) for field, messages in form.errors.items()}
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        if formset.non_form_errors():
            errors[formset.prefix] = list(formset.non_form_errors())
        for row in formset.forms:
            if row.errors:
                errors[row.prefix] = {
                    field: list(messages) for field, messages in row.errors.items()
                }
    return errors


def assert_saved(response: HttpResponse) -> None:
    """A successful admin submission redirects; otherwise show why not."""
    if response.status_code == 200 and response.context is not None:  # type: ignore[attr-defined]
        raise AssertionError(f"form re-rendered with errors: {form_errors(response)}")
    assert response.status_code == 302, response.status_code


def make_systems(*system_ids: str) -> list[str]:
    """Catalog systems with the given slug ids, named after them in capitals."""
    for system_id in system_ids:
        catalog.create_system(id=system_id, name=system_id.upper())
    return list(system_ids)


IDENTIFYING = ("incidentId", "title", "description", "createdAt", "resolvedAt")


def change_log(kind: str, entity_id: str) -> list[dict[str, Any]]:
    """The entity's change rows with their trigger events, without what identifies the entity
    (its id, title, description and timestamps in the payload), so the logs of two entities
    written alike compare equal."""
    rows = []
    for change in Change.objects.filter(kind=kind, entity_id=entity_id).order_by("seq"):
        events = [
            (event.event, {k: v for k, v in event.payload.items() if k not in IDENTIFYING})
            for event in change.trigger_events.order_by("event")
        ]
        transitions = sorted((t.field, t.from_value, t.to_value) for t in change.transitions.all())
        rows.append(
            {
                "seq": change.seq,
                "changed_fields": change.changed_fields,
                "prev": change.prev,
                "next": change.next,
                "delta": change.delta,
                "actor": change.actor,
                "transitions": transitions,
                "events": events,
            }
        )
    return rows


def without_incident(signals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``incident_changed`` arguments minus the incident id, for comparing two incidents."""
    return [{k: v for k, v in signal.items() if k != "incident_id"} for signal in signals]
