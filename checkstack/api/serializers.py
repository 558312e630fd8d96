"""Serializer building blocks shared by the apps' APIs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from checkstack.entities.models import Change


class StrictInputSerializer(serializers.Serializer):
    """Rejects fields it does not declare (400 naming each unknown field)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({field: ["Unknown field."] for field in unknown})
        return super().to_internal_value(data)

    def given(self) -> dict[str, Any]:
        """The validated fields the client actually sent (for PATCH-style partial writes)."""
        return dict(self.validated_data)


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
