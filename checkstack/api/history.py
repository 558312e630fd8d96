"""The ``history`` endpoints: an entity's change log, seq ascending, paginated."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from checkstack.entities.models import Change
from checkstack.errors import NotFound

from .serializers import ChangeSerializer


def history_response(view: Any, kind: str, entity_id: str, *, exists: bool) -> Response:
    """Changes of one entity; 404 when it neither exists nor ever had a change.

    A deleted entity keeps its history (ending with the tombstone).
    """
    changes = Change.objects.filter(kind=kind, entity_id=entity_id).order_by("seq")
    if not exists and not changes.exists():
        raise NotFound(f"No {kind} with id {entity_id}")
    page = view.paginate_queryset(changes)
    return view.get_paginated_response(ChangeSerializer(page, many=True).data)
