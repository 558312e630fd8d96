"""Page-number pagination: ``?page=N&page_size=M`` (default 50, larger sizes capped at 200).

A ``page`` or ``page_size`` that is not a whole number of at least 1 is a 400 naming the
parameter (DRF's own pagination fell back to the default size, and answered a malformed page
with 404); a page past the last one stays 404.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

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

    def get_page_size(self, request: Request) -> int:
        size = positive_int_param(request, self.page_size_query_param)
        if size is None:
            return self.page_size
        return min(size, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return positive_int_param(request, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; larger values are capped at "
                    f"{self.max_page_size})."
                )
        return parameters
