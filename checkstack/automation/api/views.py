"""Automation endpoints: the registries (read-only); automations, runs and webhooks (managers
only)."""

from __future__ import annotations

from typing import Any

from django.db.models import prefetch_related_objects
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.views import CheckstackViewSet

from .. import runs, services, webhooks
from ..models import Automation, AutomationRun, WebhookDelivery, WebhookEndpoint
from ..registry import list_actions, list_artifact_types, list_triggers
from .filters import RunFilter
from .permissions import ManageAutomation
from .serializers import (
    ActionSerializer,
    ArtifactTypeSerializer,
    AutomationCreateSerializer,
    AutomationSerializer,
    AutomationUpdateSerializer,
    EmptyInputSerializer,
    RunCancelSerializer,
    RunSerializer,
    TriggerSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointCreateSerializer,
    WebhookEndpointSerializer,
    WebhookEndpointUpdateSerializer,
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

    def get_queryset(self) -> Any:
        """No queryset: the browsable API asks every list view for one (to build its filter
        form), and GenericAPIView's own would fail its assertion."""
        return []


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


class RunViewSet(CheckstackViewSet):
    """Runs of automations, newest first, with their executed steps and artifacts."""

    queryset = AutomationRun.objects.none()
    serializer_class = RunSerializer
    permission_classes = [ManageAutomation]
    filter_backends = [DjangoFilterBackend]
    filterset_class = RunFilter
    lookup_value_regex = ID_PATTERN

    @extend_schema(responses={200: RunSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        found = self.filter_queryset(self.get_queryset()).prefetch_related("steps", "artifacts")
        page = self.paginate_queryset(found)
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(responses={200: RunSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return _run_response(runs.get_run(pk))

    @extend_schema(request=RunCancelSerializer, responses={200: RunSerializer, **ERRORS_WRITE})
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str) -> Response:
        """Stop an active run (no further step starts); a finished run answers 409."""
        data = _valid(RunCancelSerializer, request)
        run = runs.cancel_run(pk, actor=request.user, reason=data.get("reason") or "")
        return _run_response(run)


class WebhookEndpointViewSet(CheckstackViewSet):
    """Webhook endpoints; the signing secret is only ever returned by the create call."""

    queryset = WebhookEndpoint.objects.none()
    serializer_class = WebhookEndpointSerializer
    permission_classes = [ManageAutomation]
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN

    @extend_schema(responses={200: WebhookEndpointSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(webhooks.list_endpoints())
        return self.get_paginated_response(WebhookEndpointSerializer(page, many=True).data)

    @extend_schema(
        request=WebhookEndpointCreateSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **ERRORS_WRITE},
        examples=[
            OpenApiExample(
                "Every incident event",
                request_only=True,
                value={"url": "https://hooks.example.com/checkstack", "events": ["incident.*"]},
            )
        ],
    )
    def create(self, request: Request) -> Response:
        data = _valid(WebhookEndpointCreateSerializer, request)
        endpoint = webhooks.create_endpoint(**data, actor=request.user)
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={200: WebhookEndpointSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(WebhookEndpointSerializer(webhooks.get_endpoint(pk)).data)

    @extend_schema(
        request=WebhookEndpointUpdateSerializer,
        responses={200: WebhookEndpointSerializer, **ERRORS_WRITE},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _valid(WebhookEndpointUpdateSerializer, request)
        endpoint = webhooks.update_endpoint(pk, **data, actor=request.user)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        webhooks.delete_endpoint(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer, **ERRORS_WRITE})
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        """Queue a test ``ping`` delivery to the endpoint."""
        _valid(EmptyInputSerializer, request)
        delivery = webhooks.ping(pk, actor=request.user)
        return _delivery_response(delivery)

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True), **ERRORS_READ})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str) -> Response:
        """The endpoint's deliveries, newest first, each with its attempts."""
        page = self.paginate_queryset(webhooks.list_deliveries(pk))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryViewSet(CheckstackViewSet):
    queryset = WebhookDelivery.objects.none()
    serializer_class = WebhookDeliverySerializer
    permission_classes = [ManageAutomation]
    filter_backends: list[Any] = []
    lookup_value_regex = ID_PATTERN

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer, **ERRORS_WRITE})
    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        """Send the delivery again (a finished one is queued anew; 409 while it is sending)."""
        _valid(EmptyInputSerializer, request)
        return _delivery_response(webhooks.redeliver(pk, actor=request.user))


def _run_response(run: AutomationRun) -> Response:
    prefetch_related_objects([run], "steps", "artifacts")
    return Response(RunSerializer(run).data)


def _delivery_response(delivery: WebhookDelivery) -> Response:
    prefetch_related_objects([delivery], "attempt_log")
    return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


def _valid(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
