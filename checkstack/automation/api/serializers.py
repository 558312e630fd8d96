"""Automation API shapes: registries, automations, runs and webhooks (output) and strict input.

Input fields holding JSON definitions (``trigger``, ``steps``, ``concurrency``) are taken as
JSON and validated by the services, so the messages name the step and field like the admin's.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer

from ..models import (
    Automation,
    AutomationRun,
    RunArtifact,
    RunStep,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
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


# The shapes the services take (schema only): optional keys take the services' defaults, and
# unknown keys are refused.
class TriggerInput(StrictInputSerializer):
    event = serializers.CharField(help_text="A registered trigger id, e.g. 'incident.created'.")
    filter = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="A Jinja2 expression over 'trigger'; blank or null: every event matches.",
    )


class StepInput(StrictInputSerializer):
    id = serializers.CharField(help_text="Unique in the automation, [a-z][a-z0-9_]*.")
    action = serializers.CharField(help_text="A registered action id.")
    config = serializers.DictField(
        required=False,
        allow_null=True,
        help_text="The action's config; strings with {{ }} or {% %} are Jinja2 templates.",
    )
    continue_on_error = serializers.BooleanField(required=False)


class ConcurrencyInput(StrictInputSerializer):
    scope = serializers.ChoiceField(choices=SCOPES, required=False)
    mode = serializers.ChoiceField(choices=MODES, required=False)
    max_runs = serializers.IntegerField(min_value=1, required=False)


@extend_schema_field(TriggerInput)
class TriggerInputField(serializers.JSONField):
    """``{event, filter?}``, validated by the services."""


@extend_schema_field(StepInput(many=True))
class StepsInputField(serializers.JSONField):
    """``[{id, action, config?, continue_on_error?}]``, validated by the services."""


@extend_schema_field(ConcurrencyInput)
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


# -- runs -------------------------------------------------------------------------------------


class RunStepSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="step_id", help_text="The step's id in the automation.")
    result = serializers.JSONField(allow_null=True)

    class Meta:
        model = RunStep
        fields = ["id", "action", "status", "result", "error", "started_at", "finished_at"]
        read_only_fields = fields


class RunArtifactSerializer(serializers.ModelSerializer):
    data = serializers.JSONField()

    class Meta:
        model = RunArtifact
        fields = ["step_id", "type", "data", "external_id", "created_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    automation_id = serializers.CharField()
    steps = RunStepSerializer(many=True, help_text="Executed steps, in order.")
    artifacts = RunArtifactSerializer(many=True, help_text="Artifacts the steps produced.")

    class Meta:
        model = AutomationRun
        fields = [
            "id",
            "automation_id",
            "trigger_event_id",
            "event",
            "context_key",
            "status",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "steps",
            "artifacts",
        ]
        read_only_fields = fields


class RunCancelSerializer(StrictInputSerializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Stored as the run's error; default 'Cancelled by an operator'.",
    )


# -- webhooks ---------------------------------------------------------------------------------

ENDPOINT_FIELDS = [
    "id",
    "url",
    "events",
    "system_ids",
    "enabled",
    "description",
    "consecutive_failures",
    "disabled_at",
    "disabled_reason",
    "created_at",
    "updated_at",
]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.CharField(), help_text="Trigger ids, or '*' for every event."
    )
    system_ids = serializers.ListField(
        child=serializers.CharField(), help_text="Only events of these systems; empty: all."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ENDPOINT_FIELDS
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The endpoint as created: the only response that carries its secret."""

    secret = serializers.CharField(help_text="The signing secret; shown only in this response.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*ENDPOINT_FIELDS, "secret"]
        read_only_fields = fields


class WebhookEndpointCreateSerializer(StrictInputSerializer):
    url = serializers.CharField(max_length=2000, help_text="An http or https URL.")
    events = serializers.ListField(
        child=serializers.CharField(max_length=150),
        required=False,
        help_text="Trigger ids, or '*' for every event.",
    )
    system_ids = IdListField(required=False, help_text="Only events of these systems.")
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class WebhookEndpointUpdateSerializer(StrictInputSerializer):
    url = serializers.CharField(required=False, max_length=2000)
    events = serializers.ListField(child=serializers.CharField(max_length=150), required=False)
    system_ids = IdListField(required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    enabled = serializers.BooleanField(required=False)


class EmptyInputSerializer(StrictInputSerializer):
    """A body with no fields (an empty object, or none at all)."""


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = [
            "number",
            "status_code",
            "duration_ms",
            "response_excerpt",
            "error",
            "outcome",
            "created_at",
        ]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.UUIDField()
    attempt_count = serializers.IntegerField(source="attempts", help_text="Attempts so far.")
    attempts = WebhookAttemptSerializer(
        many=True, source="attempt_log", help_text="Every HTTP attempt, in order."
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "message_id",
            "endpoint_id",
            "trigger_event_id",
            "event_type",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "finished_at",
            "attempts",
        ]
        read_only_fields = fields
