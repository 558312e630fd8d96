"""Helpers shared by the benchmark commands (``bench_entities``, ``bench_api``,
``bench_delivery``, ``bench_webhooks``): percentiles, the django-q2 ORM queue, and a real
``manage.py qcluster`` on the database this process uses."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

POLL = 0.05  # seconds between two checks of ``wait_until``


def percentile(sorted_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile of sorted nanosecond samples, in milliseconds."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    """n, p50/p99/min/max/mean in milliseconds of latencies given in seconds."""
    ordered = sorted(round(s * 1e9) for s in seconds)
    return {
        "n": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "min_ms": round(ordered[0] / 1e6, 2),
        "max_ms": round(ordered[-1] / 1e6, 2),
        "mean_ms": round(sum(ordered) / len(ordered) / 1e6, 2),
    }


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


# -- a real cluster ---------------------------------------------------------------------------


def database_url(command: str = "bench_delivery") -> str:
    """A ``DATABASE_URL`` for the database this process uses (the test database under pytest)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
            raise CommandError(f"{command} needs a SQLite file another process can open")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor != "postgresql":
        raise CommandError(f"{command} runs on SQLite or PostgreSQL, not {connection.vendor}")
    user = quote(str(db.get("USER") or ""), safe="")
    if db.get("PASSWORD"):
        user += ":" + quote(str(db["PASSWORD"]), safe="")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    options = {k: v for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, str | int)}
    if "prepare_threshold" in (db.get("OPTIONS") or {}):  # None (prepared statements off)
        options["prepare_threshold"] = db["OPTIONS"]["prepare_threshold"] or "none"
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{user}{'@' if user else ''}{host}{port}/{quote(str(db['NAME']))}{query}"


class Cluster:
    """``manage.py qcluster`` in its own process group, output to a temporary log file.

    ``command`` names the benchmark (error messages, log file prefix); ``environment`` is added
    to the cluster's environment.
    """

    def __init__(
        self,
        *,
        workers: int,
        command: str = "bench_delivery",
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.log: IO[bytes] = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix=f"{command.replace('_', '-')}-qcluster-"
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
            "DATABASE_URL": database_url(command),
            "CHECKSTACK_Q_WORKERS": str(workers),
            **(environment or {}),
        }
        base_dir = Path(settings.BASE_DIR)
        self.process = subprocess.Popen(
            [sys.executable, str(base_dir / "manage.py"), "qcluster"],
            cwd=base_dir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as a whole
        )

    def output(self, chars: int = 3000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise CommandError(f"qcluster exited with {code}:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM (it stops its own workers), then SIGKILL of its process group."""
        try:
            if self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=15)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        finally:
            self.log.close()


def wait_until(condition: Callable[[], bool], timeout: float, cluster: Cluster, what: str) -> None:
    """Check ``condition`` every ``POLL`` seconds until it holds; CommandError when the cluster
    died or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        cluster.check_alive()
        if time.monotonic() > deadline:
            raise CommandError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL)


def cleanup_line(counts: dict[str, int], *, extra: str = "") -> str:
    """The report's last line: what the benchmark deleted behind itself."""
    deleted = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    return f"Benchmark cleanup: {deleted} deleted{extra}."
