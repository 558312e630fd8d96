"""Catalog endpoints: declarative views that validate input and call the services.

Systems and groups have the same five operations; ``CatalogViewSet`` implements them once over
the kind's services and serializers, and ``documented`` describes them in the OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.history import history_response
from checkstack.api.permissions import ManageCatalog
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.serializers import ChangeSerializer
from checkstack.api.shortcuts import page_response, validated
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


# List, create, read, update and delete one catalog kind through its services. (A comment, not
# a docstring: drf-spectacular would publish a docstring as every operation's description.)
class CatalogViewSet(CheckstackViewSet):
    permission_classes = [ManageCatalog]
    filter_backends = [DjangoFilterBackend]
    lookup_value_regex = ID_PATTERN
    create_serializer: ClassVar[Any]
    update_serializer: ClassVar[Any]
    list_service: ClassVar[Callable[..., Any]]
    get_service: ClassVar[Callable[..., Any]]
    create_service: ClassVar[Callable[..., Any]]
    update_service: ClassVar[Callable[..., Any]]
    delete_service: ClassVar[Callable[..., Any]]

    def list(self, request: Request) -> Response:
        items = self.filter_queryset(type(self).list_service())
        return page_response(self, items, self.get_serializer)

    def create(self, request: Request) -> Response:
        data = validated(self.create_serializer, request)
        created = type(self).create_service(**data, actor=request.user)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(type(self).get_service(pk)).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        data = validated(self.update_serializer, request)
        updated = type(self).update_service(pk, **data, actor=request.user)
        return Response(self.get_serializer(updated).data)

    def destroy(self, request: Request, pk: str) -> Response:
        type(self).delete_service(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def documented(view: type[CatalogViewSet]) -> type[CatalogViewSet]:
    """The five operations in the OpenAPI schema, with the view's own serializers."""
    read = view.serializer_class
    return extend_schema_view(
        list=extend_schema(responses={200: read(many=True), **ERRORS_READ}),
        create=extend_schema(request=view.create_serializer, responses={201: read, **ERRORS_WRITE}),
        retrieve=extend_schema(responses={200: read, **ERRORS_READ}),
        partial_update=extend_schema(
            request=view.update_serializer, responses={200: read, **ERRORS_WRITE}
        ),
        destroy=extend_schema(responses={204: None, **ERRORS_WRITE}),
    )(view)


@documented
class SystemViewSet(CatalogViewSet):
    queryset = System.objects.none()
    serializer_class = SystemSerializer
    create_serializer = SystemCreateSerializer
    update_serializer = SystemUpdateSerializer
    filterset_class = SystemFilter
    manage_only_actions = ("history",)
    list_service = staticmethod(services.list_systems)
    get_service = staticmethod(services.get_system)
    create_service = staticmethod(services.create_system)
    update_service = staticmethod(services.update_system)
    delete_service = staticmethod(services.delete_system)

    @extend_schema(responses={200: ChangeSerializer(many=True), **ERRORS_WRITE})
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: str) -> Response:
        return history_response(self, SYSTEM_KIND, pk, exists=System.objects.filter(pk=pk).exists())


@documented
class GroupViewSet(CatalogViewSet):
    queryset = Group.objects.none()
    serializer_class = GroupSerializer
    create_serializer = GroupCreateSerializer
    update_serializer = GroupUpdateSerializer
    filterset_class = GroupFilter
    list_service = staticmethod(services.list_groups)
    get_service = staticmethod(services.get_group)
    create_service = staticmethod(services.create_group)
    update_service = staticmethod(services.update_group)
    delete_service = staticmethod(services.delete_group)
