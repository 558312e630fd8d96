"""Incident API shapes: output serializers (audience-aware) and strict input serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer

from ..choices import HealthOverride, Severity, Status, Visibility
from ..models import Incident, IncidentLink, IncidentUpdate
from ..services import MAX_BULK, Audience


class IncidentSerializer(serializers.ModelSerializer):
    system_ids = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "id",
            "title",
            "description",
            "status",
            "severity",
            "suppress_notifications",
            "health_override",
            "visibility",
            "system_ids",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields

    def get_system_ids(self, incident: Incident) -> list[str]:
        return sorted(link.system_id for link in incident.systems.all())


class UpdateSerializer(serializers.ModelSerializer):
    """A timeline update; ``edit_history`` and ``created_by`` only for managers."""

    incident_id = serializers.CharField(read_only=True)
    created_by_name = serializers.SerializerMethodField()
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = IncidentUpdate
        fields = [
            "id",
            "incident_id",
            "message",
            "status_change",
            "visibility",
            "created_at",
            "edited_at",
            "created_by_name",
            "edit_history",
            "created_by",
        ]
        read_only_fields = fields

    def _audience(self) -> Audience:
        return self.context.get("audience", Audience.PUBLIC)  # type: ignore[no-any-return]

    def get_created_by_name(self, update: IncidentUpdate) -> str | None:
        if self._audience() is Audience.PUBLIC or update.created_by is None:
            return None
        user = update.created_by
        return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]

    def get_created_by(self, update: IncidentUpdate) -> int | None:
        return update.created_by_id  # type: ignore[return-value]

    def to_representation(self, instance: IncidentUpdate) -> dict[str, Any]:
        data = super().to_representation(instance)
        if self._audience() is not Audience.MANAGER:
            data.pop("edit_history", None)
            data.pop("created_by", None)
        return data


class LinkSerializer(serializers.ModelSerializer):
    incident_id = serializers.CharField(read_only=True)

    class Meta:
        model = IncidentLink
        fields = ["id", "incident_id", "label", "url", "visibility", "created_at"]
        read_only_fields = fields


class IncidentDetailSerializer(IncidentSerializer):
    """Incident + the updates and links the caller's audience may see (prefetched, filtered)."""

    updates = UpdateSerializer(many=True, read_only=True)
    links = LinkSerializer(many=True, read_only=True)

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "updates", "links"]
        read_only_fields = fields


class IncidentCreateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=Severity.choices)
    system_ids = IdListField()
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    initial_message = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    suppress_notifications = serializers.BooleanField(required=False)
    health_override = serializers.ChoiceField(
        choices=HealthOverride.choices, required=False, allow_null=True
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class IncidentUpdateSerializer(StrictInputSerializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    system_ids = IdListField(required=False)
    suppress_notifications = serializers.BooleanField(required=False)
    health_override = serializers.ChoiceField(
        choices=HealthOverride.choices, required=False, allow_null=True
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    # Accepted only to answer with the service's explanation: status changes need an update.
    status = serializers.JSONField(
        required=False, help_text="Not writable here: always answered with 400."
    )


class ResolveSerializer(StrictInputSerializer):
    message = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class UpdateCreateSerializer(StrictInputSerializer):
    message = serializers.CharField()
    status_change = serializers.ChoiceField(choices=Status.choices, required=False, allow_null=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class UpdateEditSerializer(StrictInputSerializer):
    message = serializers.CharField(required=False)
    status_change = serializers.ChoiceField(choices=Status.choices, required=False, allow_null=True)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    created_at = serializers.DateTimeField(required=False)


class LinkCreateSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000)
    label = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=120)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class LinkEditSerializer(StrictInputSerializer):
    url = serializers.CharField(required=False, max_length=2000)
    label = serializers.CharField(required=False, allow_null=True, max_length=120)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class BulkDeleteSerializer(StrictInputSerializer):
    ids = IdListField(min_length=1, max_length=MAX_BULK)


class BulkResolveSerializer(BulkDeleteSerializer):
    message = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()


class BulkResponseSerializer(serializers.Serializer):
    results = BulkResultSerializer(many=True)


class HealthOverrideEntrySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HealthOverride.choices)
    incident_id = serializers.CharField()
    incident_title = serializers.CharField()


class HealthOverridesSerializer(serializers.Serializer):
    overrides = serializers.DictField(child=HealthOverrideEntrySerializer(many=True))
