"""Query-parameter filters shared by the apps' list endpoints: a value that is not one the
parameter takes is a 400 naming it, never silently dropped.

django-filter's own ``BooleanFilter`` maps every value but ``true``/``false`` to "no filter"
(``?include_resolved=yes`` listed open incidents only, without a word).
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters import fields

TRUE_VALUES = frozenset({"true", "1"})
FALSE_VALUES = frozenset({"false", "0"})
BOOLEAN_MESSAGE = "Must be true or false."


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``, any case); absent means "no filter"."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value is None:
            return None
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise ValidationError(BOOLEAN_MESSAGE, code="invalid")


class BooleanFilter(django_filters.BooleanFilter):
    """A boolean query parameter refusing values other than true and false."""

    field_class = StrictBooleanField


class PresentChoiceField(fields.ChoiceField):
    """A choice that, when given, must be one of the choices: ``?status=`` is refused, not
    read as "no filter"."""

    def clean(self, value: Any) -> Any:
        if value == "":
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": ""}
            )
        return super().clean(value)


class ChoiceFilter(django_filters.ChoiceFilter):
    """A choice query parameter refusing values that are not among its choices, blank too."""

    field_class = PresentChoiceField
