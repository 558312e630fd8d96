"""Row counts of every table a benchmark command may write, to prove it leaves nothing behind."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django_q.models import OrmQ
from rest_framework.authtoken.models import Token

from catalog.models import System
from checkstack.entities.models import Change, Delivery, EntitySequence, Transition, TriggerEvent
from incidents.models import Incident, IncidentLink, IncidentSystem, IncidentUpdate

BENCH_TOUCHED: list[Any] = [
    Incident,
    IncidentSystem,
    IncidentUpdate,
    IncidentLink,
    System,
    Change,
    Transition,
    EntitySequence,
    TriggerEvent,
    Delivery,
    OrmQ,
    Token,
]


def row_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in BENCH_TOUCHED}
    counts["User"] = get_user_model().objects.count()
    return counts
