"""Maintenance endpoints: validate input, call the services, shape the output per audience."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.history import history_response
from checkstack.api.permissions import ManageIncidents
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.serializers import ChangeSerializer
from checkstack.api.shortcuts import page_response, validated
from checkstack.api.views import CheckstackViewSet
from checkstack.visibility import visibilities_for
from statuspage.models import Maintenance

from .. import services
from ..entity import KIND
from .filters import MaintenanceFilter
from .serializers import (
    MaintenanceCreateSerializer,
    MaintenanceEditSerializer,
    MaintenanceSerializer,
    MaintenanceUpdateCreateSerializer,
    MaintenanceUpdateSerializer,
    TransitionSerializer,
)

TRANSITION_SCHEMA = extend_schema(
    request=TransitionSerializer, responses={200: MaintenanceSerializer, **ERRORS_WRITE}
)


class MaintenanceViewSet(CheckstackViewSet):
    queryset = Maintenance.objects.none()
    serializer_class = MaintenanceSerializer
    permission_classes = [ManageIncidents]
    filter_backends = [DjangoFilterBackend]
    filterset_class = MaintenanceFilter
    lookup_value_regex = ID_PATTERN
    manage_only_actions = ("history",)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "visibilities": self._visibilities()}

    def _visibilities(self) -> frozenset[str]:
        return visibilities_for(self.request.user)

    def _detail(self, maintenance_id: str, *, code: int = status.HTTP_200_OK) -> Response:
        maintenance = services.get_maintenance(maintenance_id, visibilities=self._visibilities())
        return Response(self.get_serializer(maintenance).data, status=code)

    def _transition(self, request: Request, pk: str, service: Any) -> Response:
        service(pk, **validated(TransitionSerializer, request), actor=request.user)
        return self._detail(pk)

    # -- maintenances ---------------------------------------------------------------------

    @extend_schema(responses={200: MaintenanceSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        maintenances = self.filter_queryset(self.get_queryset())
        return page_response(self, maintenances, self.get_serializer)

    @extend_schema(
        request=MaintenanceCreateSerializer,
        responses={201: MaintenanceSerializer, **ERRORS_WRITE},
    )
    def create(self, request: Request) -> Response:
        maintenance = services.create_maintenance(
            **validated(MaintenanceCreateSerializer, request), actor=request.user
        )
        return self._detail(maintenance.pk, code=status.HTTP_201_CREATED)

    @extend_schema(responses={200: MaintenanceSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(pk)

    @extend_schema(
        request=MaintenanceEditSerializer, responses={200: MaintenanceSerializer, **ERRORS_WRITE}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        services.update_maintenance(
            pk, **validated(MaintenanceEditSerializer, request), actor=request.user
        )
        return self._detail(pk)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_maintenance(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: ChangeSerializer(many=True), **ERRORS_READ})
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: str) -> Response:
        exists = Maintenance.objects.filter(pk=pk).exists()
        return history_response(self, KIND, pk, exists=exists)

    # -- timeline and transitions ---------------------------------------------------------

    @extend_schema(
        request=MaintenanceUpdateCreateSerializer,
        responses={201: MaintenanceUpdateSerializer, **ERRORS_WRITE},
    )
    @action(detail=True, methods=["post"], url_path="updates", filter_backends=[])
    def add_update(self, request: Request, pk: str) -> Response:
        update = services.add_update(
            pk, **validated(MaintenanceUpdateCreateSerializer, request), actor=request.user
        )
        data = MaintenanceUpdateSerializer(update, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"], filter_backends=[])
    def start(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.start_maintenance)

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"], filter_backends=[])
    def complete(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.complete_maintenance)

    @TRANSITION_SCHEMA
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._transition(request, pk, services.cancel_maintenance)
