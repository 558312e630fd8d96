"""A real ``manage.py qcluster`` on the database this process uses, for the benchmarks that
measure delivery through it (``bench_delivery``, ``bench_webhooks``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, urlencode

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

POLL = 0.05  # seconds between two checks of ``wait_until``
START_TIMEOUT = 60.0  # seconds a new cluster may take to run its first task


def database_url(command: str) -> str:
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


class ClusterLike(Protocol):
    """What the waits need of a cluster: whether it still runs, and its output."""

    def check_alive(self) -> None: ...

    def output(self, chars: int = 3000) -> str: ...


class Cluster:
    """``manage.py qcluster`` in its own process group, output to a temporary log file.

    ``command`` names the benchmark (error messages, log file prefix); ``environment`` is added
    to the cluster's environment.
    """

    def __init__(
        self,
        *,
        workers: int,
        command: str,
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


def wait_until(
    condition: Callable[[], bool], timeout: float, cluster: ClusterLike, what: str
) -> None:
    """Check ``condition`` every ``POLL`` seconds until it holds; CommandError when the cluster
    died or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while not condition():
        cluster.check_alive()
        if time.monotonic() > deadline:
            raise CommandError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL)


def cluster_facts(workers: int) -> dict[str, Any]:
    """The cluster's settings that move the figures (django-q2's, as this process reads them)."""
    from django_q.conf import Conf

    return {
        "workers": workers,
        "poll_s": Conf.POLL,
        "bulk": Conf.BULK,
        "save_limit": Conf.SAVE_LIMIT,
    }
