"""Forked worker processes for the PostgreSQL crash and concurrency tests.

Each child closes the inherited connections, opens its own, runs its work and leaves with
``os._exit`` (exit code 0 on success), so pytest's handlers never run twice.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import traceback
from collections.abc import Callable
from multiprocessing.synchronize import Barrier as ProcessBarrier

from django.db import connection, connections

JOIN_TIMEOUT = 60.0


def child_main(work: Callable[[], object], barrier: ProcessBarrier | None) -> None:
    """Body of a forked worker: its own connection, ``work``, exit code 0 on success."""
    code = 1
    try:
        connections.close_all()  # never reuse the parent's socket
        connection.ensure_connection()
        if barrier is not None:
            barrier.wait(timeout=JOIN_TIMEOUT)
        work()
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            connections.close_all()
        os._exit(code)  # skip pytest's atexit handlers in the child


def fork_workers(works: list[Callable[[], object]]) -> list[multiprocessing.Process]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(works)) if len(works) > 1 else None
    connections.close_all()  # children must not inherit an open connection
    children = [
        context.Process(target=child_main, args=(work, barrier), daemon=True) for work in works
    ]
    for child in children:
        child.start()
    return children


def join_all(children: list[multiprocessing.Process]) -> list[int | None]:
    try:
        for child in children:
            child.join(timeout=JOIN_TIMEOUT)
    finally:
        for child in children:
            if child.is_alive():
                child.kill()
                child.join(timeout=5)
    return [child.exitcode for child in children]


def backend_gone(backend: int) -> bool:
    """Whether the PostgreSQL session ``backend`` (a pid) has ended."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [backend])
        (count,) = cursor.fetchone()
    return count == 0


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend,) = cursor.fetchone()
    return int(backend)


def stop_process(process: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    """SIGTERM a server started by a test, SIGKILL it if it is still there after ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
