"""The django-q2 tasks of a benchmark run: what was queued before it, and the removal of the
tasks it queued (ORM broker) and of their results.

A task is named by its job: the dotted path of its function and its argument as text, as
``checkstack.entities.outbox.enqueue_tasks`` sends them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db import connection

from checkstack.entities.outbox import DELIVER_CHANGE_TASK, DELIVER_TASK, task_name

from .batches import chunks

Job = tuple[str, str]  # (dotted task function, its argument as text)


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


def jobs(func: str, args: Iterable[object]) -> set[Job]:
    """The jobs of one task function for each of ``args``."""
    return {(func, str(arg)) for arg in args}


def delivery_jobs(deliveries: Iterable[tuple[object, object, str]]) -> set[Job]:
    """The jobs that may deliver each of ``deliveries`` ``(id, change id, group)``: by id
    (enqueued after COMMIT, or by a sweep) and by change and group (inserted by the write on
    PostgreSQL with the ORM broker, see ``checkstack.entities.outbox``)."""
    rows = list(deliveries)
    return jobs(DELIVER_TASK, (pk for pk, _, _ in rows)) | jobs(
        DELIVER_CHANGE_TASK, (f"{change_id}:{group}" for _, change_id, group in rows)
    )


def purge_queued_tasks(queued: Collection[Job], after_id: int) -> int:
    """Delete the queued django-q2 tasks (ORM broker, queued after ``after_id``) of ``queued``.

    Tasks a running cluster took already find no row and do nothing; other brokers keep
    theirs until a worker runs them, with the same effect.
    """
    queue = orm_queue()
    if queue is None or not queued:
        return 0
    wanted = set(queued)
    ours = [
        row.pk
        for row in queue.objects.filter(pk__gt=after_id).only("pk", "payload")
        if any((row.task.get("func"), str(arg)) in wanted for arg in row.task.get("args") or ())
    ]
    return sum(queue.objects.filter(pk__in=part).delete()[0] for part in chunks(ours))


def delete_task_results(done: Collection[Job], *, funcs: Iterable[str] = ()) -> int:
    """Delete the django-q2 task results of ``done`` (found by task name), and every result
    of the task functions ``funcs``."""
    from django_q.models import Task

    names = [task_name(func, arg) for func, arg in done]
    deleted = sum(Task.objects.filter(name__in=part).delete()[0] for part in chunks(names))
    funcs = list(funcs)
    if funcs:
        deleted += Task.objects.filter(func__in=funcs).delete()[0]
    return deleted
