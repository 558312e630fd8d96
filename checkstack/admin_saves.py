"""Saving the main form of a service-backed admin: a new object is created from every field,
an existing one is updated with the fields the user changed; refusals go back on the form."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http import HttpRequest

from checkstack.service_admin import (
    REFUSABLE,
    ServiceModelAdmin,
    ServiceRefused,
    adopt,
    refusal_errors,
)


class CreateOrUpdateAdmin(ServiceModelAdmin):
    """A ``ServiceModelAdmin`` whose ``save_through_services`` is ``create`` with the
    ``create_fields`` or ``update`` with the changed ``update_fields`` (nothing when none)."""

    create_fields: ClassVar[tuple[str, ...]]
    update_fields: ClassVar[tuple[str, ...]]

    def create(self, request: HttpRequest, values: dict[str, Any]) -> Any:
        """The object the service created from ``values``."""
        raise NotImplementedError

    def update(self, request: HttpRequest, obj: Any, values: dict[str, Any]) -> Any:
        """The object the service updated with ``values``."""
        raise NotImplementedError

    def save_through_services(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        values = (
            form.changed_values(self.update_fields)
            if change
            else {name: form.cleaned_data[name] for name in self.create_fields}
        )
        if not values:
            return
        try:
            saved = self.update(request, obj, values) if change else self.create(request, values)
        except REFUSABLE as exc:
            raise ServiceRefused({"": refusal_errors(exc)}) from exc
        adopt(obj, saved)
