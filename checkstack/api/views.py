"""The base of every Checkstack viewset: its own errors and pagination, whatever the host sets."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets

from .exceptions import exception_handler
from .pagination import StandardPagination
from .parsers import JSONParser


class CheckstackViewSet(viewsets.GenericViewSet):
    """Domain errors map to HTTP, lists are paginated and request bodies are parsed by the
    strict ``JSONParser`` even in a host project whose ``REST_FRAMEWORK`` setting names other
    defaults."""

    pagination_class = StandardPagination
    parser_classes = [JSONParser]

    def get_exception_handler(self) -> Any:
        return exception_handler
