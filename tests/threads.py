"""Real threads for the PostgreSQL concurrency tests: each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

JOIN_TIMEOUT = 60.0


class Worker(threading.Thread):
    """Runs ``work`` on its own database connection; keeps the result or what it raised."""

    def __init__(self, work: Callable[[], Any], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


def join_all(*workers: Worker) -> None:
    """Wait for every worker (bounded); a thread still running fails the test."""
    for worker in workers:
        worker.join(timeout=JOIN_TIMEOUT)
    assert not [w.name for w in workers if w.is_alive()], "threads did not finish"


def run_together(*works: Callable[[], Any]) -> list[Worker]:
    """Start the works at the same moment (a barrier), each on its own thread and connection,
    and wait for all of them (bounded)."""
    barrier = threading.Barrier(len(works))

    def gated(work: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait(timeout=JOIN_TIMEOUT)
            return work()

        return run

    workers = [Worker(gated(work), f"worker-{n}") for n, work in enumerate(works)]
    for worker in workers:
        worker.start()
    join_all(*workers)
    return workers
