"""Two steps every Checkstack endpoint repeats: validating a request body, answering a page."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response


def validated(serializer_class: Any, request: Request) -> dict[str, Any]:
    """The request body as ``serializer_class`` validates it; a 400 with its errors if invalid."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def page_response(view: GenericAPIView, items: Iterable[Any], serializer_class: Any) -> Response:
    """The view's current page of ``items``, serialized, in the paginated envelope."""
    page = view.paginate_queryset(items)
    return view.get_paginated_response(serializer_class(page, many=True).data)
