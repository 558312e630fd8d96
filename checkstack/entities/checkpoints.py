"""SQLite WAL checkpoints off the write path.

In WAL mode the commit that takes the WAL past ``wal_autocheckpoint`` pages (1,000 by default)
runs the checkpoint itself: it copies the WAL into the database file and, with
``synchronous=NORMAL``, fsyncs both files. On this project's machines that takes 5 to 7 ms, and an
entity write dirties about 17 pages (the change, transition and trigger-event rows and their
indexes), so one write in 50 paid it: about a tenth of the mean entity write, and its p99.

With ``CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS`` on, every process runs one daemon thread per
SQLite database file. Every ``INTERVAL`` seconds it runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its
own connection, which never blocks readers or writers (the sqlite3 module releases the GIL while
it runs) and costs next to nothing when there is nothing to copy (no fsync). (Watching the WAL
file's size and time instead missed commits made within one tick of the file system's clock.)
The
process's connections raise ``wal_autocheckpoint`` to ``FALLBACK_PAGES``, so a commit still
checkpoints by itself when the thread falls behind or is gone: the WAL stays bounded.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

from .conf import app_settings

logger = logging.getLogger("checkstack.entities")

INTERVAL = 0.25
FALLBACK_PAGES = 10_000

_lock = threading.Lock()
_threads: dict[str, Checkpointer] = {}


class Checkpointer(threading.Thread):
    """Checkpoints one database file's WAL every ``interval`` seconds (see the module docstring).

    ``checkpoints`` counts the checkpoints that copied frames, ``looks`` the intervals."""

    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        super().__init__(name=f"sqlite-checkpoints:{os.path.basename(path)}", daemon=True)
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # checkpoints run
        self.looks = 0  # intervals in which it looked at the WAL
        self._stop_requested = threading.Event()

    def stop(self) -> None:
        self._stop_requested.set()

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        last: tuple[int, int] | None = None
        failing = False
        try:
            while not self._stop_requested.wait(self.interval):
                self.looks += 1
                if not os.path.exists(self.path + "-wal"):
                    continue  # no WAL (yet): nothing to do
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
                    # (busy, frames in the WAL, frames copied): nothing to copy costs no fsync
                    ((_busy, frames, copied),) = conn.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchall()
                except sqlite3.Error:
                    if not failing:  # once per failing spell, not every interval
                        logger.warning(
                            "Background checkpoint of %s failed", self.path, exc_info=True
                        )
                    failing = True
                    continue
                failing = False
                if copied > 0 and (frames, copied) != last:
                    self.checkpoints += 1
                last = (frames, copied)
        finally:
            if conn is not None:
                conn.close()


def checkpointer_for(path: str) -> Checkpointer:
    """This process's running checkpointer of ``path``, started if there is none (a thread
    inherited through ``fork`` is not running in the child, so the child gets its own)."""
    path = os.path.realpath(path)
    with _lock:
        thread = _threads.get(path)
        if thread is None or not thread.is_alive():
            thread = _threads[path] = Checkpointer(path)
            thread.start()
        return thread


def stop_all() -> None:
    """Stop this process's checkpointers (tests)."""
    with _lock:
        threads = list(_threads.values())
        _threads.clear()
    for thread in threads:
        thread.stop()
        thread.join(timeout=5)


def on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    """``connection_created`` receiver: a new connection to a SQLite file leaves the routine
    checkpoints to this process's checkpointer of that file."""
    if connection.vendor != "sqlite" or not app_settings.SQLITE_BACKGROUND_CHECKPOINTS:
        return
    if connection.is_in_memory_db():
        return
    checkpointer_for(str(connection.settings_dict["NAME"]))
    connection.connection.execute(f"PRAGMA wal_autocheckpoint={FALLBACK_PAGES}")
