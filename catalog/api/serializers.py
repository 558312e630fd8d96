"""Catalog API shapes: output serializers and strict input serializers."""

from __future__ import annotations

from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer

from ..models import Group, System


class SystemSerializer(serializers.ModelSerializer):
    group_ids = serializers.SerializerMethodField()

    class Meta:
        model = System
        fields = ["id", "name", "description", "metadata", "group_ids", "created_at", "updated_at"]
        read_only_fields = fields

    def get_group_ids(self, system: System) -> list[str]:
        return sorted(group.pk for group in system.groups.all())


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
