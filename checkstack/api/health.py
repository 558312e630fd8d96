"""``GET /healthz``: database reachable, and every backlog against its threshold.

The outbox and the worker heartbeat are checked here; apps above this layer (automation:
runs, webhook deliveries) add their backlogs with ``register_health_check`` from their
``AppConfig.ready()``, so this module never imports them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from checkstack.entities.operations import queue_health
from checkstack.entities.tasks import WORKER_HEARTBEAT_KEY

from .authentication import TokenAuthentication
from .conf import api_settings

logger = logging.getLogger("checkstack.health")

Figure = int | float | None


@dataclass(frozen=True)
class Backlog:
    """What one check found: its figures and the names of those past their threshold."""

    figures: Mapping[str, Figure]
    failing: tuple[str, ...] = field(default=())


HealthCheck = Callable[[], Backlog]

_checks: dict[str, HealthCheck] = {}


def register_health_check(name: str, check: HealthCheck) -> None:
    """Report ``check()``'s figures under ``name``; a figure it lists as failing makes
    ``/healthz`` answer 503 (as ``"<name>.<figure>"`` in ``failing``). A check may query the
    database (a bounded number of aggregate queries) and raise ``DatabaseError``."""
    _checks[name] = check


def past(value: Figure, limit: float | None) -> bool:
    """Whether ``value`` passed ``limit``; a limit of ``None`` is a check turned off."""
    return limit is not None and value is not None and value > limit


def outbox_backlog() -> Backlog:
    queue = queue_health()
    failing = ("oldest_pending_seconds",)
    late = past(queue["oldest_pending_seconds"], api_settings.HEALTH_MAX_OUTBOX_AGE)
    return Backlog(queue, failing if late else ())


def worker_heartbeat() -> Backlog:
    """Seconds since a worker last ran the sweep (``None``: never, as far as the cache knows)."""
    try:
        beat = cache.get(WORKER_HEARTBEAT_KEY)
    except Exception:  # a cache outage must not turn into a 500 of the health check
        logger.warning("Health check: the cache is unreachable", exc_info=True)
        beat = None
    age = round(max(time.time() - float(beat), 0.0), 3) if beat is not None else None
    limit = api_settings.HEALTH_MAX_HEARTBEAT_AGE
    # No heartbeat at all fails as soon as the check is on: no worker has ever swept.
    stale = limit is not None and (age is None or age > limit)
    return Backlog({"last_heartbeat_seconds": age}, ("last_heartbeat_seconds",) if stale else ())


register_health_check("queue", outbox_backlog)
register_health_check("worker", worker_heartbeat)


def may_see_details(request: HttpRequest) -> bool:
    """The ``?verbose`` figures: public by setting, else a staff session or an API token."""
    if api_settings.HEALTH_VERBOSE_PUBLIC:
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    try:
        return TokenAuthentication().authenticate(Request(request)) is not None
    except APIException:  # a wrong token (counted as a failed login) or a locked-out address
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = request.GET.get("checks")
    if checks not in (None, "database"):
        return JsonResponse({"detail": "checks: only 'database' is known."}, status=400)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        backlogs = {} if checks == "database" else {name: c() for name, c in _checks.items()}
    except DatabaseError as error:
        # Expected during an outage, and asked every few seconds: one line, no traceback.
        logger.warning("Health check: database unreachable (%s)", str(error).strip())
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    if checks == "database":
        return JsonResponse({"status": "ok", "database": "ok"})
    failing = [f"{name}.{figure}" for name, b in backlogs.items() for figure in b.failing]
    body: dict[str, object] = {
        "status": "degraded" if failing else "ok",
        "database": "ok",
        "queue": dict(backlogs["queue"].figures),
        "failing": failing,
    }
    if "verbose" in request.GET and may_see_details(request):
        body.update({name: dict(b.figures) for name, b in backlogs.items()})
    return JsonResponse(body, status=503 if failing else 200)
