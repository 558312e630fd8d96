"""Catalog API shapes: output serializers and strict input serializers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer
from checkstack.system_status import SystemStatus, system_statuses
from checkstack.visibility import ANONYMOUS_VISIBILITIES, visibilities_for

from ..models import Group, System

STATUSES = "system_statuses"


def readers_visibilities(context: dict[str, Any]) -> frozenset[str]:
    """What the requesting user may see of incidents and maintenance (public without one)."""
    request = context.get("request")
    return visibilities_for(request.user) if request is not None else ANONYMOUS_VISIBILITIES


class SystemListSerializer(serializers.ListSerializer):
    """Asks for the statuses of the whole page of systems at once (one query per source)."""

    def to_representation(self, data: Any) -> list[Any]:
        systems = list(data.all() if hasattr(data, "all") else data)
        self.context[STATUSES] = system_statuses(
            [system.pk for system in systems], visibilities=readers_visibilities(self.context)
        )
        return super().to_representation(systems)


class SystemSerializer(serializers.ModelSerializer):
    group_ids = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = System
        fields = [
            "id",
            "name",
            "description",
            "metadata",
            "group_ids",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        list_serializer_class = SystemListSerializer

    def get_group_ids(self, system: System) -> list[str]:
        return sorted(group.pk for group in system.groups.all())

    @extend_schema_field(serializers.ChoiceField(choices=[s.value for s in SystemStatus]))
    def get_status(self, system: System) -> str:
        """The worst of what open incidents and running maintenance say (that the reader may
        see); ``operational`` when nothing does."""
        known = self.context.get(STATUSES)
        if known is None or system.pk not in known:
            known = system_statuses([system.pk], visibilities=readers_visibilities(self.context))
        return str(known[system.pk])


class GroupSerializer(serializers.ModelSerializer):
    system_ids = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "metadata", "system_ids", "created_at", "updated_at"]
        read_only_fields = fields

    def get_system_ids(self, group: Group) -> list[str]:
        return sorted(system.pk for system in group.systems.all())


class SystemCreateSerializer(StrictInputSerializer):
    id = serializers.CharField(required=False, allow_null=True, max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.DictField(required=False)


class SystemUpdateSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    metadata = serializers.DictField(required=False)


class GroupCreateSerializer(StrictInputSerializer):
    id = serializers.CharField(required=False, allow_null=True, max_length=100)
    name = serializers.CharField(max_length=200)
    metadata = serializers.DictField(required=False)
    system_ids = IdListField(required=False)


class GroupUpdateSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, max_length=200)
    metadata = serializers.DictField(required=False)
    system_ids = IdListField(required=False)
