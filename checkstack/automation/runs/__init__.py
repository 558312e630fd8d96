"""Runs of automations: creation, step execution in a worker, wait/resume, cancel, recovery.

A run executes its steps in order. Each step is claimed in one short transaction (the step
row is marked ``running`` and its attempt counted) and executed in a second one that holds
the run's row lock, calls the action and stores its result together with the action's own
database writes. A worker killed during a step rolls that second transaction back, so a step
whose effects are database writes takes effect exactly once; a worker's recovery watch
resumes the run once its claim lapsed (``LEASE``: a live worker holds the row lock, or renews
the claim while a ``transactional=False`` step runs), and a step interrupted
``STEP_MAX_ATTEMPTS`` times fails the run instead of looping.
Actions with effects outside the database (``transactional=False``, e.g. ``webhook.send``) run
outside that transaction: at least once, with a stable webhook-id for the receiver.

Modules, each depending only on the ones before it: ``records`` (reading, creating,
cancelling runs) → ``steps`` (one step: config, call, result) → ``waiting``
(``wait_for_trigger``) → ``engine`` (the worker loop) → ``recovery`` (the recovery watch
and the sweeper).
"""

from .engine import Progress, execute_run
from .records import (
    active_runs,
    automation_actor,
    cancel_run,
    cancel_runs,
    create_run,
    enqueue_after_commit,
    get_run,
    list_runs,
)
from .recovery import execute_due_inline, recover_stalled, sweep
from .waiting import resume_waiting_runs

__all__ = [
    "Progress",
    "active_runs",
    "automation_actor",
    "cancel_run",
    "cancel_runs",
    "create_run",
    "enqueue_after_commit",
    "execute_due_inline",
    "execute_run",
    "get_run",
    "list_runs",
    "recover_stalled",
    "resume_waiting_runs",
    "sweep",
]
