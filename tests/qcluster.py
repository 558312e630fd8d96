"""A real ``manage.py qcluster`` against the test database, for end-to-end tests (PostgreSQL),
on django-q2's ORM broker or on Redis (``Broker``; the ``broker`` fixture in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings as django_settings
from django.db import connection

from tests.processes import stop_process

BASE_DIR = Path(django_settings.BASE_DIR)

# A Redis for the redis-broker variants, e.g. redis://127.0.0.1:6390/0 (.ci/run sets it);
# without it the tests start a private redis-server, or skip when there is none.
TEST_REDIS_URL_ENV = "CHECKSTACK_TEST_REDIS_URL"
BROKERS = ("orm", "redis")


@dataclass(frozen=True)
class Broker:
    """The django-q2 broker of one test: the test process (the web side, enqueueing after
    COMMIT) and every qcluster it starts use the same one."""

    name: str  # "orm" or "redis"
    redis_url: str = ""

    def environment(self) -> dict[str, str]:
        """What a qcluster process needs to use this broker (the default project's setting)."""
        return {"CHECKSTACK_REDIS_URL": self.redis_url}


ORM_BROKER = Broker("orm")


def qcluster_environment(broker: Broker = ORM_BROKER, **extra: str) -> dict[str, str]:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{credentials}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CHECKSTACK_Q_WORKERS": "2",
        **broker.environment(),
        **extra,
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def private_redis_server() -> Iterator[str]:
    """A throwaway ``redis-server`` on 127.0.0.1 (no persistence); yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise FileNotFoundError("redis-server")
    port = free_port()
    directory = tempfile.mkdtemp(prefix="checkstack-test-redis-")
    arguments = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    arguments += ["--dir", directory, "--logfile", os.path.join(directory, "redis.log")]
    server = subprocess.Popen(
        [binary, *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        if not wait_for(lambda: redis_answers(url) or server.poll() is not None, timeout=10):
            raise RuntimeError(f"redis-server on port {port} did not answer")
        if server.poll() is not None:
            log = Path(directory, "redis.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"redis-server exited with {server.returncode}:\n{log}")
        yield url
    finally:
        stop_process(server)
        shutil.rmtree(directory, ignore_errors=True)


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the cluster (it stops its own workers), then SIGKILL its process group."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


@contextlib.contextmanager
def running_qcluster(
    log_path: Path, broker: Broker = ORM_BROKER, **environment: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A qcluster in its own process group on ``broker``, stopped as a whole afterwards."""
    with log_path.open("wb") as log:
        cluster = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=qcluster_environment(broker, **environment),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield cluster
        finally:
            stop(cluster)


def descendants(pid: int) -> int:
    """How many processes descend from ``pid`` (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                # The fields after the command name, which may itself hold spaces or ")".
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
    found, frontier = 0, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found += len(frontier)
    return found


def cluster_started(cluster: subprocess.Popen[bytes], workers: int = 2) -> bool:
    """Whether the qcluster runs its sentinel, pusher, monitor and ``workers`` workers."""
    return descendants(cluster.pid) >= workers + 3


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
