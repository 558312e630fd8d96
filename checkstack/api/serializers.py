"""Serializer building blocks shared by the apps' APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from checkstack.entities.models import Change
from checkstack.validation import storage_problem


class StrictInputSerializer(serializers.Serializer):
    """Rejects fields it does not declare and values that cannot be stored (NUL characters,
    unpaired surrogates, non-finite numbers, deep nesting): 400 naming each field."""

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
