"""Serializer building blocks shared by the apps' APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from checkstack.entities.models import Change
from checkstack.validation import storage_problem

# What DRF says about a value of the wrong JSON type, by the field types it would coerce.
NOT_A_STRING = "Not a valid string."
NOT_A_BOOLEAN = "Must be a valid boolean."
NOT_AN_INTEGER = "A valid integer is required."


def json_type_problem(field: serializers.Field, value: Any) -> str | None:
    """Why ``value`` is not of the JSON type the OpenAPI schema gives ``field``.

    DRF coerces on its own: ``0`` into the string ``"0"``, ``"yes"`` and ``1`` into ``True``,
    ``"5"`` into ``5``; the schema promises a string, a boolean, an integer. ``None`` is left
    to the field's ``allow_null``.
    """
    if value is None:
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else NOT_A_BOOLEAN
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else NOT_AN_INTEGER
    if isinstance(field, serializers.MultipleChoiceField):
        return None
    if isinstance(
        field, (serializers.CharField, serializers.ChoiceField, serializers.DateTimeField)
    ):
        return None if isinstance(value, str) else NOT_A_STRING
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            problem = json_type_problem(field.child, item) if item is not None else None
            if problem:
                return f"Item {index}: {problem}"
    return None


class StrictInputSerializer(serializers.Serializer):
    """Rejects fields it does not declare, values of another JSON type than the schema gives
    (no coercion of ``0`` into ``"0"`` or of ``"yes"`` into ``true``) and values that cannot be
    stored (NUL characters, unpaired surrogates, non-finite numbers, deep nesting): 400 naming
    each field."""

    # (The docstring is the schema's description of every body without one of its own.)
    # The schema of its request bodies says ``additionalProperties: false``:
    # ``checkstack.api.schema.StrictRequestBodies``.

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(str(field) for field in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({field: ["Unknown field."] for field in unknown})
            problems = {str(field): storage_problem(value) for field, value in data.items()}
            if any(problems.values()):
                raise serializers.ValidationError(
                    {field: [problem] for field, problem in sorted(problems.items()) if problem}
                )
            types = {
                name: json_type_problem(self.fields[name], value) for name, value in data.items()
            }
            if any(types.values()):
                raise serializers.ValidationError(
                    {name: [problem] for name, problem in sorted(types.items()) if problem}
                )
        return super().to_internal_value(data)


class ChangeSerializer(serializers.ModelSerializer):
    """One entry of an entity's change history."""

    class Meta:
        model = Change
        fields = [
            "change_id",
            "kind",
            "entity_id",
            "seq",
            "prev",
            "next",
            "delta",
            "changed_fields",
            "actor",
            "occurred_at",
        ]
        read_only_fields = fields


class IdListField(serializers.ListField):
    """A list of id strings whose item errors read "Item 2: ..." in a flat message list.

    DRF nests item errors as ``{"2": [...]}``; the API contract is field → list of messages.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", serializers.CharField(max_length=255))
        super().__init__(**kwargs)

    def run_child_validation(self, data: Any) -> Any:
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            if isinstance(detail, Mapping):
                raise serializers.ValidationError(
                    [
                        f"Item {index}: {message}"
                        for index, messages in detail.items()
                        for message in messages
                    ]
                ) from exc
            raise
