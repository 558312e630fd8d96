"""Error responses documented on every endpoint of the OpenAPI schema, and what the schema
says about strict request bodies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

from .serializers import StrictInputSerializer

_detail = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})
_field_errors = inline_serializer(
    "FieldErrors",
    fields={
        "non_field_errors": serializers.ListField(child=serializers.CharField(), required=False)
    },
)

ERROR_400 = OpenApiResponse(_field_errors, description="Invalid input: field → messages.")
ERROR_401 = OpenApiResponse(_detail, description="Not authenticated.")
ERROR_403 = OpenApiResponse(_detail, description="Missing permission.")
ERROR_404 = OpenApiResponse(_detail, description="Not found.")
ERROR_409 = OpenApiResponse(_detail, description="Conflicts with an existing object.")
ERROR_503 = OpenApiResponse(
    _detail, description="A lock wait timed out; retry after the Retry-After header's seconds."
)

ERRORS_READ = {400: ERROR_400, 401: ERROR_401, 403: ERROR_403, 404: ERROR_404}
ERRORS_WRITE = {**ERRORS_READ, 409: ERROR_409, 503: ERROR_503}


# Fields of the Update component that only managers receive (see UpdateSerializer).
MANAGER_ONLY_UPDATE_FIELDS = ("edit_history", "created_by")


def manager_only_fields_are_optional(result: dict, generator: object, **kwargs: object) -> dict:
    """Postprocessing hook: other audiences get Update without the manager-only fields."""
    schema = result.get("components", {}).get("schemas", {}).get("Update")
    if schema and "required" in schema:
        schema["required"] = [f for f in schema["required"] if f not in MANAGER_ONLY_UPDATE_FIELDS]
    return result


class StrictRequestBodies(OpenApiSerializerExtension):
    """The request bodies of ``StrictInputSerializer``s refuse fields they do not declare:
    their schema says ``additionalProperties: false`` (registered by being defined)."""

    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        serializer_class = get_class(self.target)
        if not serializer_class.__dict__.get("__doc__"):
            schema.pop("description", None)  # the base class's docstring says nothing to clients
        if direction == "request":
            schema["additionalProperties"] = False
        return schema
