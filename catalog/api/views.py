"""Catalog endpoints: declarative views that validate input and call the services."""

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
from checkstack.api.permissions import ManageCatalog
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.serializers import ChangeSerializer
from checkstack.api.views import CheckstackViewSet

from .. import services
from ..entity import SYSTEM_KIND
from ..models import Group, System
from .filters import GroupFilter, SystemFilter
from .serializers import (
    GroupCreateSerializer,
    GroupSerializer,
    GroupUpdateSerializer,
    SystemCreateSerializer,
    SystemSerializer,
    SystemUpdateSerializer,
)


class SystemViewSet(CheckstackViewSet):
    queryset = System.objects.none()
    serializer_class = SystemSerializer
    permission_classes = [ManageCatalog]
    filter_backends = [DjangoFilterBackend]
    filterset_class = SystemFilter
    lookup_value_regex = ID_PATTERN
    manage_only_actions = ("history",)

    @extend_schema(responses={200: SystemSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        systems = self.filter_queryset(services.list_systems())
        page = self.paginate_queryset(systems)
        return self.get_paginated_response(SystemSerializer(page, many=True).data)

    @extend_schema(
        request=SystemCreateSerializer, responses={201: SystemSerializer, **ERRORS_WRITE}
    )
    def create(self, request: Request) -> Response:
        data = _valid(SystemCreateSerializer, request)
        system = services.create_system(**data, actor=request.user)
        return Response(SystemSerializer(system).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: SystemSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SystemSerializer(services.get_system(pk)).data)

    @extend_schema(
        request=SystemUpdateSerializer, responses={200: SystemSerializer, **ERRORS_WRITE}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _valid(SystemUpdateSerializer, request)
        system = services.update_system(pk, **data, actor=request.user)
        return Response(SystemSerializer(system).data)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_system(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: ChangeSerializer(many=True), **ERRORS_WRITE})
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: str) -> Response:
        return history_response(self, SYSTEM_KIND, pk, exists=System.objects.filter(pk=pk).exists())


class GroupViewSet(CheckstackViewSet):
    queryset = Group.objects.none()
    serializer_class = GroupSerializer
    permission_classes = [ManageCatalog]
    filter_backends = [DjangoFilterBackend]
    filterset_class = GroupFilter
    lookup_value_regex = ID_PATTERN

    @extend_schema(responses={200: GroupSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        groups = self.filter_queryset(services.list_groups())
        page = self.paginate_queryset(groups)
        return self.get_paginated_response(GroupSerializer(page, many=True).data)

    @extend_schema(request=GroupCreateSerializer, responses={201: GroupSerializer, **ERRORS_WRITE})
    def create(self, request: Request) -> Response:
        data = _valid(GroupCreateSerializer, request)
        group = services.create_group(**data, actor=request.user)
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: GroupSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(GroupSerializer(services.get_group(pk)).data)

    @extend_schema(request=GroupUpdateSerializer, responses={200: GroupSerializer, **ERRORS_WRITE})
    def partial_update(self, request: Request, pk: str) -> Response:
        data = _valid(GroupUpdateSerializer, request)
        group = services.update_group(pk, **data, actor=request.user)
        return Response(GroupSerializer(group).data)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_group(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _valid(serializer_class: Any, request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
