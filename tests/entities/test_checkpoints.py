"""SQLite WAL checkpoints in a background thread (``checkstack.entities.checkpoints``).

These tests use their own database files under ``tmp_path`` (the test database is in memory,
where there is no WAL), so they run the same whichever database the suite runs on.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.db.utils import load_backend
from django.test import override_settings

from checkstack.entities import checkpoints
from checkstack.entities.checkpoints import FALLBACK_PAGES, Checkpointer, checkpointer_for

WAIT = 10.0  # a bound on waiting for the thread, not a speed requirement


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[list[Checkpointer]]:
    """Stops the registry's threads and those a test started itself (listed here)."""
    own: list[Checkpointer] = []
    yield own
    checkpoints.stop_all()
    for thread in own:
        thread.stop()
        thread.join(WAIT)


@pytest.fixture
def unblocked(django_db_blocker: Any) -> Iterator[None]:
    """Connections of our own, to files outside the test database."""
    with django_db_blocker.unblock():
        yield


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the checkpointer did not get there")
        time.sleep(0.01)


def django_sqlite(path: Path) -> Any:
    """A Django SQLite connection (not in ``DATABASES``) to ``path``, with the project's
    options (WAL)."""
    from checkstack.dburl import sqlite_database

    databases = {"default": sqlite_database(path), "ckpt": sqlite_database(path)}
    settings_dict = connections.configure_settings(databases)["ckpt"]
    backend = load_backend(settings_dict["ENGINE"])
    return backend.DatabaseWrapper(settings_dict, alias="ckpt")


def wal_database(path: Path) -> sqlite3.Connection:
    """A WAL database whose writer never checkpoints by itself."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, blob BLOB)")
    return conn


def write_pages(conn: sqlite3.Connection, count: int) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t (blob) VALUES (?)", [(os.urandom(3000),)] * count)
    conn.execute("COMMIT")


def test_the_checkpointer_copies_the_wal_into_the_database_file(
    tmp_path: Path, no_threads_left: list[Checkpointer]
) -> None:
    path = tmp_path / "db.sqlite3"
    writer = wal_database(path)
    write_pages(writer, 300)
    size_before = path.stat().st_size
    assert size_before < 300 * 3000  # the rows are only in the WAL so far

    thread = Checkpointer(str(path), interval=0.01)
    no_threads_left.append(thread)
    thread.start()
    wait_for(lambda: thread.checkpoints == 1)
    assert path.stat().st_size > size_before + 300 * 3000

    # it does not checkpoint while nothing changes (it keeps looking), and does after writes
    looked = thread.looks
    wait_for(lambda: thread.looks >= looked + 5)
    assert thread.checkpoints == 1
    write_pages(writer, 300)
    wait_for(lambda: path.stat().st_size > size_before + 600 * 3000)
    assert writer.execute("SELECT count(*) FROM t").fetchone() == (600,)
    thread.stop()
    thread.join(WAIT)
    assert not thread.is_alive()


@override_settings(CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS=True)
def test_a_new_connection_to_a_sqlite_file_hands_checkpoints_to_the_thread(
    tmp_path: Path, unblocked: None
) -> None:
    path = tmp_path / "app.sqlite3"
    db = django_sqlite(path)
    try:
        db.ensure_connection()
        thread = checkpoints._threads[os.path.realpath(path)]
        assert thread.is_alive()
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone() == (FALLBACK_PAGES,)
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone() == ("wal",)
        # a second connection to the same file shares the thread
        other = django_sqlite(path)
        other.ensure_connection()
        assert checkpoints._threads[os.path.realpath(path)] is thread
        other.close()
    finally:
        db.close()


@override_settings(CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS=False)
def test_switched_off_a_connection_checkpoints_by_itself_as_sqlite_does(
    tmp_path: Path, unblocked: None
) -> None:
    db = django_sqlite(tmp_path / "app.sqlite3")
    try:
        db.ensure_connection()
        assert checkpoints._threads == {}
        with db.cursor() as cursor:
            cursor.execute("PRAGMA wal_autocheckpoint")
            assert cursor.fetchone() == (1000,)
    finally:
        db.close()


@override_settings(CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS=True)
def test_an_in_memory_database_gets_no_thread(unblocked: None) -> None:
    db = django_sqlite(Path(":memory:"))
    try:
        db.ensure_connection()
        assert checkpoints._threads == {}
    finally:
        db.close()


def test_a_checkpointer_that_is_not_running_is_replaced(tmp_path: Path) -> None:
    """After ``fork`` the child inherits the registry but not the thread."""
    path = str(tmp_path / "db.sqlite3")
    first = checkpointer_for(path)
    assert checkpointer_for(path) is first
    first.stop()
    first.join(WAIT)
    second = checkpointer_for(path)
    assert second is not first and second.is_alive()


def test_a_failing_checkpoint_is_logged_once_and_the_thread_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, no_threads_left: list[Checkpointer]
) -> None:
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    Path(f"{path}-wal").write_bytes(b"nor is this a WAL" * 100)
    thread = Checkpointer(str(path), interval=0.01)
    no_threads_left.append(thread)
    with caplog.at_level(logging.WARNING, logger="checkstack.entities"):
        thread.start()
        wait_for(lambda: any("checkpoint" in r.getMessage() for r in caplog.records))
        Path(f"{path}-wal").write_bytes(b"still not a WAL" * 200)  # the WAL changes again
        looked = thread.looks
        wait_for(lambda: thread.looks >= looked + 5)  # it tried again, and again
    assert thread.is_alive()
    failures = [r for r in caplog.records if "Background checkpoint" in r.getMessage()]
    assert len(failures) == 1
    assert thread.checkpoints == 0
