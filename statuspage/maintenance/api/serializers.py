"""Maintenance API shapes: one output shape (with the timeline the reader may see) and strict
input serializers."""

from __future__ import annotations

from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer
from checkstack.visibility import ANONYMOUS_VISIBILITIES
from incidents.choices import Visibility
from statuspage.models import Maintenance, MaintenanceUpdate

from ..choices import MaintenanceStatus


class MaintenanceUpdateSerializer(serializers.ModelSerializer):
    maintenance_id = serializers.CharField(read_only=True)
    created_by_name = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceUpdate
        fields = [
            "id",
            "maintenance_id",
            "message",
            "status_change",
            "visibility",
            "created_at",
            "created_by_name",
        ]
        read_only_fields = fields

    def get_created_by_name(self, update: MaintenanceUpdate) -> str | None:
        """Who wrote it (not shown to anonymous readers)."""
        visibilities = self.context.get("visibilities", ANONYMOUS_VISIBILITIES)
        if visibilities == ANONYMOUS_VISIBILITIES or update.created_by is None:
            return None
        user = update.created_by
        return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]


class MaintenanceSerializer(serializers.ModelSerializer):
    """A maintenance with its systems and the timeline updates the reader may see (prefetched,
    filtered), in lists and on its own alike."""

    system_ids = serializers.SerializerMethodField()
    updates = MaintenanceUpdateSerializer(many=True, read_only=True)

    class Meta:
        model = Maintenance
        fields = [
            "id",
            "title",
            "description",
            "status",
            "visibility",
            "system_ids",
            "starts_at",
            "ends_at",
            "started_at",
            "finished_at",
            "created_at",
            "updated_at",
            "updates",
        ]
        read_only_fields = fields

    def get_system_ids(self, maintenance: Maintenance) -> list[str]:
        return sorted(link.system_id for link in maintenance.systems.all())


class MaintenanceCreateSerializer(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    system_ids = IdListField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class MaintenanceEditSerializer(StrictInputSerializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    system_ids = IdListField(required=False)
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    # Accepted only to answer with the service's explanation: transitions have endpoints.
    status = serializers.JSONField(
        required=False, help_text="Not writable here: always answered with 400."
    )


class MaintenanceUpdateCreateSerializer(StrictInputSerializer):
    message = serializers.CharField()
    status_change = serializers.ChoiceField(
        choices=MaintenanceStatus.choices, required=False, allow_null=True
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class TransitionSerializer(StrictInputSerializer):
    message = serializers.CharField(required=False, allow_null=True, allow_blank=True)
