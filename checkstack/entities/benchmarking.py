"""Helpers shared by the benchmark commands (``bench_entities``, ``bench_api``)."""

from __future__ import annotations

import math
from typing import Any

from django.db import connection


def percentile(sorted_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def orm_queue() -> Any:
    """django-q2's ORM queue model, or None when its table does not exist."""
    try:
        from django_q.models import OrmQ
    except ImportError:  # django-q2 not installed
        return None
    if OrmQ._meta.db_table not in connection.introspection.table_names():
        return None
    return OrmQ


def last_queued_task_id() -> int:
    """Highest django-q2 ORM queue id now (0 if there is no ORM queue table)."""
    queue = orm_queue()
    if queue is None:
        return 0
    return queue.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def purge_queued_tasks(args: set[str], after_id: int) -> int:
    """Delete queued django-q2 tasks (ORM broker) whose argument is one of ``args``.

    Tasks a running cluster took already find no row and do nothing; other brokers keep
    theirs until a worker runs them, with the same effect.
    """
    queue = orm_queue()
    if queue is None or not args:
        return 0
    ours = [
        row.pk
        for row in queue.objects.filter(pk__gt=after_id).only("pk", "payload")
        if {str(arg) for arg in row.task.get("args") or ()} & args
    ]
    return queue.objects.filter(pk__in=ours).delete()[0] if ours else 0
