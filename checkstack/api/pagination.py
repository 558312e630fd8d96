"""Pagination of every list: ``?page=N&page_size=M`` (default 50, larger sizes capped at 200),
or, when the client asks with ``?cursor=`` (empty for the first page), keyset pages that follow
``next``/``previous`` links and carry no ``count`` (checkstack/api/cursor.py): the same cost at
any depth and no ``COUNT(*)`` of the whole list.

A ``page`` or ``page_size`` that is not a whole number of at least 1 is a 400 naming the
parameter (DRF's own pagination fell back to the default size, and answered a malformed page
with 404); a page past the last one stays 404. ``page`` together with ``cursor`` is a 400.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from . import cursor

WHOLE_NUMBER_MESSAGE = "Must be a whole number of at least 1."


def positive_int_param(request: Request, name: str) -> int | None:
    """The query parameter ``name`` as an integer >= 1 (None when absent)."""
    if name not in request.query_params:
        return None
    raw = request.query_params[name]
    text = raw.strip()
    # ASCII digits only: int() would also take "٣", "1_000" and "+5".
    if not (text.isascii() and text.isdigit()) or not text.strip("0"):
        raise ValidationError({name: [WHOLE_NUMBER_MESSAGE]})
    # Past any page or size anyway; int() refuses strings of more than 4300 digits.
    return int(text) if len(text) <= 18 else 10**18


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    last_page_strings = ()  # "?page=last": the schema promises an integer
    cursor_query_param = "cursor"
    cursor_query_description = (
        "Keyset pagination instead of page numbers: empty for the first page, then the value "
        "in the next/previous links. The answer has no count."
    )

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.cursor_mode = self.cursor_query_param in request.query_params
        if not self.cursor_mode:
            return super().paginate_queryset(queryset, request, view)  # type: ignore[no-any-return]
        if self.page_query_param in request.query_params:
            raise ValidationError({self.page_query_param: ["Use either page or cursor, not both."]})
        if not isinstance(queryset, QuerySet):
            raise ValidationError({self.cursor_query_param: [cursor.NOT_AVAILABLE]})
        self.request = request
        size = self.get_page_size(request)
        ordering = cursor.ordering_of(queryset)
        position = cursor.decode(
            request.query_params[self.cursor_query_param],
            ordering,
            cursor.key_kinds(queryset, ordering),
        )
        # A view may ask for the page's keys first (``cursor.page``), e.g. for a search.
        keys_first = getattr(view, "cursor_keys_first", None)
        rows, more = cursor.page(
            queryset, position, ordering, size, keys_first=bool(keys_first and keys_first())
        )
        backwards = position is not None and position.backwards
        # Forwards: a next page if more rows follow, a previous one unless this is the first.
        # Backwards: a previous page if more rows precede; the next page is where we came from.
        has_next = more if not backwards else True
        has_previous = position is not None if not backwards else more
        self.cursor_links = {
            "next": self._cursor_link(rows[-1], ordering, backwards=False)
            if rows and has_next
            else None,
            "previous": self._cursor_link(rows[0], ordering, backwards=True)
            if rows and has_previous
            else None,
        }
        return rows

    def _cursor_link(self, row: Any, ordering: tuple[str, ...], *, backwards: bool) -> str:
        token = cursor.encode(cursor.Position(ordering, cursor.key_of(row, ordering), backwards))
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        return replace_query_param(url, self.cursor_query_param, token)  # type: ignore[no-any-return]

    def get_paginated_response(self, data: Any) -> Response:
        if not getattr(self, "cursor_mode", False):
            return super().get_paginated_response(data)
        return Response({**self.cursor_links, "results": data})

    def get_paginated_response_schema(self, schema: Any) -> dict[str, Any]:
        answer = super().get_paginated_response_schema(schema)
        answer["required"] = ["results"]
        answer["properties"]["count"]["description"] = (
            "Number of results in the whole list; absent in cursor pagination."
        )
        return answer

    def get_page_size(self, request: Request) -> int:
        size = positive_int_param(request, self.page_size_query_param)
        if size is None:
            return self.page_size
        return min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return positive_int_param(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            }
        )
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; larger values are capped at "
                    f"{self.max_page_size})."
                )
        return parameters
