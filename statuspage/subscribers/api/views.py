"""Subscriber endpoints for managers (``incidents.manage_incident``): list, add, look up, remove."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from checkstack.api import ID_PATTERN
from checkstack.api.schema import ERRORS_READ, ERRORS_WRITE
from checkstack.api.shortcuts import page_response, validated
from checkstack.api.views import CheckstackViewSet
from statuspage.models import Subscriber

from .. import services
from .filters import SubscriberFilter
from .permissions import ManageSubscribers
from .serializers import (
    SubscriberCreatedSerializer,
    SubscriberCreateSerializer,
    SubscriberSerializer,
)


class SubscriberViewSet(CheckstackViewSet):
    queryset = Subscriber.objects.none()
    serializer_class = SubscriberSerializer
    permission_classes = [ManageSubscribers]
    filter_backends = [DjangoFilterBackend]
    filterset_class = SubscriberFilter
    lookup_value_regex = ID_PATTERN

    @extend_schema(responses={200: SubscriberSerializer(many=True), **ERRORS_READ})
    def list(self, request: Request) -> Response:
        return page_response(self, self.filter_queryset(self.get_queryset()), SubscriberSerializer)

    @extend_schema(
        request=SubscriberCreateSerializer,
        responses={201: SubscriberCreatedSerializer, **ERRORS_WRITE},
    )
    def create(self, request: Request) -> Response:
        subscriber = services.create_subscriber(
            **validated(SubscriberCreateSerializer, request), actor=request.user
        )
        return Response(
            SubscriberCreatedSerializer(subscriber).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(responses={200: SubscriberSerializer, **ERRORS_READ})
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(SubscriberSerializer(services.get_subscriber(pk)).data)

    @extend_schema(responses={204: None, **ERRORS_WRITE})
    def destroy(self, request: Request, pk: str) -> Response:
        services.remove_subscriber(pk, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
