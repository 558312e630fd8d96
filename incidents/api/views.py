"""Incident endpoints: validate input, call the services, shape the output per audience."""

from __future__ import annotations

import dataclasses
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.history import history_response
from checkstack.api.permissions import ManageIncidents
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.serializers import ChangeSerializer
from checkstack.api.shortcuts import page_response, validated
from checkstack.api.views import CheckstackViewSet
from checkstack.validation import storage_problem

from .. import services
from ..entity import KIND
from ..models import Incident
from .filters import IncidentFilter
from .permissions import audience_for, may_manage
from .serializers import (
    BulkDeleteSerializer,
    BulkResolveSerializer,
    BulkResponseSerializer,
    HealthOverridesSerializer,
    IncidentCreateSerializer,
    IncidentDetailSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    LinkCreateSerializer,
    LinkEditSerializer,
    LinkSerializer,
    ResolveSerializer,
    UpdateCreateSerializer,
    UpdateEditSerializer,
    UpdateSerializer,
)

UPDATE_ID = rf"updates/(?P<update_id>{ID_PATTERN})"
LINK_ID = rf"links/(?P<link_id>{ID_PATTERN})"


class IncidentViewSet(CheckstackViewSet):
    queryset = Incident.objects.none()
    serializer_class = IncidentSerializer
    permission_classes = [ManageIncidents]
    filter_backends = [DjangoFilterBackend]
    filterset_class = IncidentFilter
    lookup_value_regex = ID_PATTERN
    manage_only_actions = ("history", "health_overrides")

    # -- helpers --------------------------------------------------------------------------

    def cursor_keys_first(self) -> bool:
        """A search's cursor page reads its keys first (``checkstack.api.cursor.page``): on
        PostgreSQL the active-incident index holds the titles, so a term that most incidents
        lack is matched walking the index, not the rows (docs/performance.md, "Scaling")."""
        return bool(self.request.query_params.get("search", "").strip())

    def _context(self) -> dict[str, Any]:
        return {"request": self.request, "audience": audience_for(self.request.user)}

    def _detail(self, incident_id: str, *, code: int = status.HTTP_200_OK) -> Response:
        audience = audience_for(self.request.user)
        incident = services.get_incident(incident_id, audience=audience)
        return Response(
            IncidentDetailSerializer(incident, context=self._context()).data, status=code
        )

    def _written(self, incident: Incident, *, code: int = status.HTTP_200_OK) -> Response:
        """The detail of an incident a service has just saved (that row is not read again)."""
        incident = services.detail_of(incident, audience=audience_for(self.request.user))
        return Response(
            IncidentDetailSerializer(incident, context=self._context()).data, status=code
        )

    # -- incidents ------------------------------------------------------------------------

    @extend_schema(responses={200: IncidentSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        incidents = self.filter_queryset(self.get_queryset())
        return page_response(self, incidents, IncidentSerializer)

    @extend_schema(
        request=IncidentCreateSerializer, responses={201: IncidentDetailSerializer, **ERRORS_WRITE}
    )
    def create(self, request: Request) -> Response:
        incident = services.create_incident(
            **validated(IncidentCreateSerializer, request), actor=request.user
        )
        return self._written(incident, code=status.HTTP_201_CREATED)

    @extend_schema(responses={200: IncidentDetailSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return self._detail(pk)

    @extend_schema(
        request=IncidentUpdateSerializer, responses={200: IncidentDetailSerializer, **ERRORS_WRITE}
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        incident = services.update_incident(
            pk, **validated(IncidentUpdateSerializer, request), actor=request.user
        )
        return self._written(incident)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.delete_incident(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=ResolveSerializer, responses={200: IncidentDetailSerializer, **ERRORS_WRITE}
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resolve(self, request: Request, pk: str) -> Response:
        incident = services.resolve_incident(
            pk, **validated(ResolveSerializer, request), actor=request.user
        )
        return self._written(incident)

    @extend_schema(responses={200: ChangeSerializer(many=True), **ERRORS_READ})
    @action(detail=True, methods=["get"], filter_backends=[])
    def history(self, request: Request, pk: str) -> Response:
        return history_response(self, KIND, pk, exists=Incident.objects.filter(pk=pk).exists())

    # -- timeline -------------------------------------------------------------------------

    @extend_schema(
        request=UpdateCreateSerializer, responses={201: UpdateSerializer, **ERRORS_WRITE}
    )
    @action(detail=True, methods=["post"], url_path="updates", filter_backends=[])
    def add_update(self, request: Request, pk: str) -> Response:
        update = services.add_update(
            pk, **validated(UpdateCreateSerializer, request), actor=request.user
        )
        data = UpdateSerializer(update, context=self._context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["PATCH"],
        request=UpdateEditSerializer,
        responses={200: UpdateSerializer, **ERRORS_WRITE},
    )
    @extend_schema(methods=["DELETE"], responses={204: None, **ERRORS_WRITE})
    @action(detail=True, methods=["patch", "delete"], url_path=UPDATE_ID, filter_backends=[])
    def update_detail(self, request: Request, pk: str, update_id: str) -> Response:
        if request.method == "DELETE":
            services.delete_update(pk, update_id, actor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        update = services.edit_update(
            pk, update_id, **validated(UpdateEditSerializer, request), actor=request.user
        )
        return Response(UpdateSerializer(update, context=self._context()).data)

    # -- links ----------------------------------------------------------------------------

    @extend_schema(request=LinkCreateSerializer, responses={201: LinkSerializer, **ERRORS_WRITE})
    @action(detail=True, methods=["post"], url_path="links", filter_backends=[])
    def add_link(self, request: Request, pk: str) -> Response:
        link = services.add_link(pk, **validated(LinkCreateSerializer, request), actor=request.user)
        return Response(LinkSerializer(link).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["PATCH"],
        request=LinkEditSerializer,
        responses={200: LinkSerializer, **ERRORS_WRITE},
    )
    @extend_schema(methods=["DELETE"], responses={204: None, **ERRORS_WRITE})
    @action(detail=True, methods=["patch", "delete"], url_path=LINK_ID, filter_backends=[])
    def link_detail(self, request: Request, pk: str, link_id: str) -> Response:
        if request.method == "DELETE":
            services.remove_link(pk, link_id, actor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        link = services.update_link(
            pk, link_id, **validated(LinkEditSerializer, request), actor=request.user
        )
        return Response(LinkSerializer(link).data)

    # -- bulk and health ------------------------------------------------------------------

    @extend_schema(
        request=BulkResolveSerializer, responses={200: BulkResponseSerializer, **ERRORS_WRITE}
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="bulk-resolve",
        filter_backends=[],
        permission_classes=[],
    )
    def bulk_resolve(self, request: Request) -> Response:
        data = self._valid_bulk(BulkResolveSerializer)
        results = services.bulk_resolve(
            data["ids"], message=data.get("message"), actor=request.user, allow=self._allow
        )
        return Response({"results": [dataclasses.asdict(r) for r in results]})

    @extend_schema(
        request=BulkDeleteSerializer, responses={200: BulkResponseSerializer, **ERRORS_WRITE}
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="bulk-delete",
        filter_backends=[],
        permission_classes=[],
    )
    def bulk_delete(self, request: Request) -> Response:
        data = self._valid_bulk(BulkDeleteSerializer)
        results = services.bulk_delete(data["ids"], actor=request.user, allow=self._allow)
        return Response({"results": [dataclasses.asdict(r) for r in results]})

    def _allow(self, incident: Incident) -> bool:
        return may_manage(self.request.user, incident)

    def _valid_bulk(self, serializer_class: Any) -> dict[str, Any]:
        """Bulk writes check each incident: 401 anonymous, 403 when no given id is writable."""
        user = self.request.user
        if not user.is_authenticated:
            self.permission_denied(self.request)
        data = validated(serializer_class, self.request)
        if not user.has_perm("incidents.manage_incident"):
            candidates = Incident.objects.filter(pk__in=data["ids"])
            if not any(may_manage(user, incident) for incident in candidates):
                raise PermissionDenied("You may not manage any of these incidents.")
        return data

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "system_ids", str, description="Comma-separated system ids.", required=True
            )
        ],
        responses={200: HealthOverridesSerializer, **ERRORS_READ},
    )
    @action(detail=False, methods=["get"], url_path="health-overrides", filter_backends=[])
    def health_overrides(self, request: Request) -> Response:
        raw = request.query_params.get("system_ids", "")
        system_ids = [s.strip() for s in raw.split(",") if s.strip()]
        problem = storage_problem(system_ids)
        if problem:
            return Response({"system_ids": [problem]}, status=status.HTTP_400_BAD_REQUEST)
        if not system_ids:
            return Response(
                {"system_ids": ["Give one or more comma-separated system ids."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response({"overrides": services.get_active_health_overrides(system_ids)})
