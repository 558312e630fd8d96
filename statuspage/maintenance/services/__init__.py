"""Maintenance services: every write and query of scheduled maintenance and its timeline.

Every write runs in one transaction through the ``maintenance`` entity (locked, logged, turned
into ``maintenance.*`` trigger events). Bad input raises ``ValidationError`` (field → messages)
and changes nothing; a transition the status rules do not allow raises ``Conflict``.

One module per question, lower ones never importing higher ones:

- ``fields``: validation of a maintenance's own fields (systems, window);
- ``writes``: the write protocol of one existing maintenance;
- ``transitions``: the status rules, and the timeline update each transition records;
- ``creation``: scheduling a maintenance;
- ``lifecycle``: changing its fields and systems, deleting it;
- ``timeline``: timeline updates, starting, completing and cancelling;
- ``schedule``: the on-time transitions (``advance_due``);
- ``queries``: the list, one maintenance, and what the status page shows;
- ``status``: the ``maintenance`` source of system statuses.
"""

from .creation import create_maintenance
from .fields import MAX_MESSAGE, MAX_TITLE
from .lifecycle import delete_maintenance, update_maintenance
from .queries import (
    DEFAULT_ORDERING,
    ORDERINGS,
    active_and_upcoming,
    get_maintenance,
    list_maintenances,
)
from .schedule import SCHEDULE_ACTOR, Advanced, advance_due
from .status import systems_under_maintenance
from .timeline import (
    add_update,
    cancel_maintenance,
    complete_maintenance,
    start_maintenance,
    transition,
)

__all__ = [
    "DEFAULT_ORDERING",
    "MAX_MESSAGE",
    "MAX_TITLE",
    "ORDERINGS",
    "SCHEDULE_ACTOR",
    "Advanced",
    "active_and_upcoming",
    "add_update",
    "advance_due",
    "cancel_maintenance",
    "complete_maintenance",
    "create_maintenance",
    "delete_maintenance",
    "get_maintenance",
    "list_maintenances",
    "start_maintenance",
    "systems_under_maintenance",
    "transition",
    "update_maintenance",
]
