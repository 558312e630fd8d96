"""Automation endpoints: the registries (read-only) and automations (managers only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.views import CheckstackViewSet

from .. import services
from ..models import Automation
from ..registry import list_actions, list_artifact_types, list_triggers
from .permissions import ManageAutomation
from .serializers import (
    ActionSerializer,
    ArtifactTypeSerializer,
    AutomationCreateSerializer,
    AutomationSerializer,
    AutomationUpdateSerializer,
    TriggerSerializer,
)

CRITICAL_INCIDENT_NOTE = OpenApiExample(
    "Critical incident → timeline note",
    request_only=True,
    value={
        "name": "Critical incident note",
        "trigger": {
            "event": "incident.created",
            "filter": "trigger.payload.severity == 'critical'",
        },
        "steps": [
            {
                "id": "note",
                "action": "incident.add_update",
                "config": {"message": "On-call paged for {{ trigger.payload.title }}"},
                "continue_on_error": False,
            }
        ],
        "concurrency": {"scope": "context_key", "mode": "single", "max_runs": 1},
    },
)


class RegistryViewSet(CheckstackViewSet):
    """A registry as a plain list (it is small and process-wide): any logged-in user may read
    it, since it describes code, not data."""

    permission_classes = [IsAuthenticated]
    pagination_class = None  # type: ignore[assignment]
    filter_backends: list[Any] = []


class TriggerViewSet(RegistryViewSet):
    serializer_class = TriggerSerializer

    @extend_schema(responses={200: TriggerSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        return Response(TriggerSerializer(list_triggers(), many=True).data)


class ActionViewSet(RegistryViewSet):
    serializer_class = ActionSerializer

    @extend_schema(responses={200: ActionSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        return Response(ActionSerializer(list_actions(), many=True).data)


class ArtifactTypeViewSet(RegistryViewSet):
    serializer_class = ArtifactTypeSerializer

    @extend_schema(responses={200: ArtifactTypeSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        return Response(ArtifactTypeSerializer(list_artifact_types(), many=True).data)


class AutomationViewSet(CheckstackViewSet):
    queryset = Automation.objects.none()
    serializer_class = AutomationSerializer
    permission_classes = [ManageAutomation]
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN

    @extend_schema(responses={200: AutomationSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(services.list_automations())
        return self.get_paginated_response(AutomationSerializer(page, many=True).data)

    @extend_schema(
        request=AutomationCreateSerializer,
        responses={201: AutomationSerializer, **ERRORS_WRITE},
        examples=[CRITICAL_INCIDENT_NOTE],
    )
    def create(self, request: Request) -> Response:
        data = _valid(AutomationCreateSerializer, request)
        automation = services.create_automation(**data, actor=request.user)
        return Response(AutomationSerializer(automation).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: AutomationSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AutomationSerializer(services.get_automation(pk)).data)

    @extend_schema(
        request=AutomationUpdateSerializer, responses={200: AutomationSerializer, **ERRORS_WRITE}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _valid(AutomationUpdateSerializer, request)
        automation = services.update_automation(pk, **data, actor=request.user)
        return Response(AutomationSerializer(automation).data)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_automation(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
