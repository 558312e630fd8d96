"""The base of every Checkstack viewset: its own errors and pagination, whatever the host sets."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets

from .exceptions import exception_handler
from .pagination import StandardPagination


class CheckstackViewSet(viewsets.GenericViewSet):
    """Domain errors map to HTTP and lists are paginated even in a host project whose
    ``REST_FRAMEWORK`` setting names other defaults."""

    pagination_class = StandardPagination

    def get_exception_handler(self) -> Any:
        return exception_handler
