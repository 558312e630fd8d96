"""``checkstack.entities.sql.execute``: the entity core's own statements, straight to the driver
unless statements are being observed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.test.utils import CaptureQueriesContext

from checkstack.entities.models import EntitySequence
from checkstack.entities.sql import execute

pytestmark = pytest.mark.django_db

TABLE = connection.ops.quote_name(EntitySequence._meta.db_table)
INSERT = f"INSERT INTO {TABLE} (kind, entity_id, last_seq) VALUES (%s, %s, %s)"


def test_unobserved_statements_run_on_the_driver_cursor_and_return_their_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    django_execute = CursorWrapper.execute

    def recording_execute(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        calls.append(sql)
        return django_execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", recording_execute)

    execute(INSERT, ["sql-test", "a", 7])
    rows = execute(
        f"SELECT entity_id, last_seq FROM {TABLE} WHERE kind = %s AND entity_id LIKE 'a%%'",
        ["sql-test"],
    )

    assert rows == [("a", 7)]
    assert calls == []  # neither statement went through Django's cursor wrapper
    with connection.cursor() as cursor:  # the recorder works: Django's own cursor is seen
        cursor.execute("SELECT 1")
    assert calls == ["SELECT 1"]


def test_many_inserts_every_row() -> None:
    execute(INSERT, [("sql-test", "a", 1), ("sql-test", "b", 2)], many=True)

    assert sorted(
        EntitySequence.objects.filter(kind="sql-test").values_list("entity_id", "last_seq")
    ) == [("a", 1), ("b", 2)]


def test_driver_errors_surface_as_django_errors_with_the_driver_error_as_cause() -> None:
    execute(INSERT, ["sql-test", "a", 1])

    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        execute(INSERT, ["sql-test", "a", 2])

    assert raised.value.__cause__ is not None
    assert type(raised.value.__cause__).__module__.split(".")[0] in {"sqlite3", "psycopg"}


def test_observed_statements_go_through_djangos_cursor_and_are_counted() -> None:
    seen: list[str] = []

    def wrapper(execute_: Any, sql: str, *args: Any) -> Any:
        seen.append(sql)
        return execute_(sql, *args)

    with CaptureQueriesContext(connection) as captured:
        execute(INSERT, ["sql-test", "a", 1])
    with connection.execute_wrapper(wrapper):
        rows = execute(f"SELECT last_seq FROM {TABLE} WHERE kind = %s", ["sql-test"])

    assert len(captured.captured_queries) == 1
    assert "INSERT INTO" in captured.captured_queries[0]["sql"]
    assert len(seen) == 1 and "SELECT last_seq" in seen[0]
    assert rows == [(1,)]


@pytest.mark.postgres
def test_on_postgresql_a_statement_run_often_is_prepared_once() -> None:
    select = f"SELECT last_seq FROM {TABLE} WHERE kind = %s AND entity_id = %s"
    execute(INSERT, ["sql-test", "a", 3])
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = 5  # what parse_database_url sets (whatever this database says)
    try:
        for _ in range(10):
            assert execute(select, ["sql-test", "a"]) == [(3,)]
    finally:
        raw.prepare_threshold = threshold

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"SELECT last_seq FROM {TABLE}%"],
        )
        assert cursor.fetchone() == (1,)
