"""Automation API shapes: registries, automations (output) and strict automation input.

Input fields holding JSON definitions (``trigger``, ``steps``, ``concurrency``) are taken as
JSON and validated by the services, so the messages name the step and field like the admin's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkstack.api.serializers import StrictInputSerializer

from ..models import Automation
from ..registry import ActionDefinition, ArtifactTypeDefinition, TriggerDefinition
from ..services import MODES, SCOPES

JSON_SCHEMA = serializers.DictField(help_text="A JSON Schema (from the pydantic model).")


class TriggerSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    payload_schema = serializers.SerializerMethodField()

    @extend_schema_field(JSON_SCHEMA)
    def get_payload_schema(self, trigger: TriggerDefinition) -> dict[str, Any]:
        return trigger.payload_schema.model_json_schema()


class ActionSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField()
    config_schema = serializers.SerializerMethodField()
    produces = serializers.CharField(allow_null=True)
    consumes = serializers.ListField(child=serializers.CharField())

    @extend_schema_field(JSON_SCHEMA)
    def get_config_schema(self, action: ActionDefinition) -> dict[str, Any]:
        return action.config_schema.model_json_schema()


class ArtifactTypeSerializer(serializers.Serializer):
    id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField()
    schema = serializers.SerializerMethodField()

    @extend_schema_field(JSON_SCHEMA)
    def get_schema(self, artifact_type: ArtifactTypeDefinition) -> dict[str, Any]:
        return artifact_type.schema.model_json_schema()


# -- automations ----------------------------------------------------------------------------


class AutomationTriggerSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="A registered trigger id, e.g. 'incident.created'.")
    filter = serializers.CharField(
        allow_blank=True,
        help_text="A Jinja2 expression over 'trigger'; blank: every event matches.",
    )


class AutomationStepSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Unique in the automation, [a-z][a-z0-9_]*.")
    action = serializers.CharField(help_text="A registered action id.")
    config = serializers.DictField(
        help_text="The action's config; strings with {{ }} or {% %} are Jinja2 templates."
    )
    continue_on_error = serializers.BooleanField()


class AutomationConcurrencySerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=SCOPES)
    mode = serializers.ChoiceField(choices=MODES)
    max_runs = serializers.IntegerField(min_value=1)


class AutomationSerializer(serializers.ModelSerializer):
    trigger = AutomationTriggerSerializer()
    steps = AutomationStepSerializer(many=True)
    concurrency = AutomationConcurrencySerializer()

    class Meta:
        model = Automation
        fields = [
            "id",
            "name",
            "description",
            "enabled",
            "trigger",
            "steps",
            "concurrency",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


@extend_schema_field(AutomationTriggerSerializer)
class TriggerInputField(serializers.JSONField):
    """``{event, filter?}``, validated by the services."""


@extend_schema_field(AutomationStepSerializer(many=True))
class StepsInputField(serializers.JSONField):
    """``[{id, action, config?, continue_on_error?}]``, validated by the services."""


@extend_schema_field(AutomationConcurrencySerializer)
class ConcurrencyInputField(serializers.JSONField):
    """``{scope?, mode?, max_runs?}`` (missing keys take the defaults), validated by services."""


class AutomationCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    enabled = serializers.BooleanField(required=False)
    trigger = TriggerInputField()
    steps = StepsInputField()
    concurrency = ConcurrencyInputField(required=False, allow_null=True)


class AutomationUpdateSerializer(StrictInputSerializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    enabled = serializers.BooleanField(required=False)
    trigger = TriggerInputField(required=False)
    steps = StepsInputField(required=False)
    concurrency = ConcurrencyInputField(required=False, allow_null=True)
