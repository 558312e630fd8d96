"""``checkstack.entities.sql.LinkedRowsRead``: rows with their sorted linked ids in one query,
through the ``incident`` entity's accessor (incidents with their catalog systems)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkstack.entities import sql as entity_sql
from checkstack.entities.sql import LinkedRowsRead
from incidents import services
from incidents.entity import read_incidents
from incidents.models import Incident, IncidentSystem
from tests.incidents.helpers import make_incident, make_systems

Statement = tuple[str, list[Any]]


@pytest.fixture
def systems(db: None) -> list[str]:
    return make_systems("db", "api", "web")


@contextlib.contextmanager
def recorded_statements() -> Iterator[list[Statement]]:
    """The ``(sql, params)`` of every statement the accessor runs meanwhile (and runs them)."""
    seen: list[Statement] = []
    real_execute = entity_sql.execute

    def recording_execute(sql: str, params: Sequence[Any] = (), **kwargs: Any) -> Any:
        seen.append((sql, list(params)))
        return real_execute(sql, params, **kwargs)

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(entity_sql, "execute", recording_execute)
        yield seen


def state(severity: str, system_ids: list[str], status: str = "investigating") -> dict[str, Any]:
    return {"status": status, "severity": severity, "systemIds": system_ids}


# -- reads --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_id_is_read_with_the_single_id_statement(systems: list[str]) -> None:
    incident = make_incident(["web", "db", "api"], severity="critical")

    with recorded_statements() as statements:
        states = read_incidents([incident.pk])

    assert states == {incident.pk: state("critical", ["api", "db", "web"])}
    assert statements == [(read_incidents.sql(connection.vendor, 1), [incident.pk])]


@pytest.mark.django_db
def test_several_ids_are_read_in_one_statement_with_linked_ids_sorted(
    systems: list[str], django_assert_num_queries: Any
) -> None:
    first = make_incident(["web", "db"])
    second = make_incident(["api"], severity="minor")
    third = make_incident(["web", "api", "db"], severity="critical")
    ids = [first.pk, second.pk, third.pk]

    with recorded_statements() as statements, django_assert_num_queries(1):
        states = read_incidents(ids)

    assert states == {
        first.pk: state("major", ["db", "web"]),
        second.pk: state("minor", ["api"]),
        third.pk: state("critical", ["api", "db", "web"]),
    }
    vendor = connection.vendor
    assert statements == [(read_incidents.sql(vendor, 3), read_incidents.params(vendor, ids))]


@pytest.mark.django_db
def test_a_row_without_linked_rows_has_an_empty_list(systems: list[str]) -> None:
    incident = make_incident(["db"])
    IncidentSystem.objects.filter(incident_id=incident.pk).delete()

    assert read_incidents([incident.pk]) == {incident.pk: state("major", [])}


@pytest.mark.django_db
def test_missing_ids_are_absent(systems: list[str]) -> None:
    incident = make_incident(["db"])

    assert read_incidents(["missing"]) == {}
    assert read_incidents(["missing", incident.pk, "gone"]) == {incident.pk: state("major", ["db"])}


@pytest.mark.django_db
def test_no_ids_run_no_query(django_assert_num_queries: Any) -> None:
    with recorded_statements() as statements, django_assert_num_queries(0):
        assert read_incidents([]) == {}
        assert read_incidents(iter(())) == {}

    assert statements == []


@pytest.mark.django_db
def test_duplicate_ids_are_read_once(systems: list[str]) -> None:
    first = make_incident(["db"])
    second = make_incident(["api"])

    with recorded_statements() as statements:
        states = read_incidents([first.pk, second.pk, first.pk, second.pk, first.pk])

    assert states == {first.pk: state("major", ["db"]), second.pk: state("major", ["api"])}
    vendor = connection.vendor
    assert statements == [
        (read_incidents.sql(vendor, 2), read_incidents.params(vendor, [first.pk, second.pk]))
    ]


@pytest.mark.django_db
def test_models_given_as_app_label_strings_are_resolved(systems: list[str]) -> None:
    read = LinkedRowsRead(
        "incidents.Incident",
        ("severity",),
        "incidents.IncidentSystem",
        "incident",
        "system_id",
        linked_as="systems",
    )
    incident = make_incident(["web", "api"], severity="minor")

    assert read.models() == (Incident, IncidentSystem)
    assert read([incident.pk]) == {incident.pk: {"severity": "minor", "systems": ["api", "web"]}}


def test_models_may_be_given_as_classes() -> None:
    read = LinkedRowsRead(
        Incident, ("status",), IncidentSystem, "incident", "system_id", linked_as="systemIds"
    )

    assert read.models() == (Incident, IncidentSystem)
    assert read.sql("sqlite", 1) == LinkedRowsRead(
        "incidents.Incident",
        ("status",),
        "incidents.IncidentSystem",
        "incident",
        "system_id",
        linked_as="systemIds",
    ).sql("sqlite", 1)


# -- statements and parameters ------------------------------------------------------------------


def test_postgresql_reads_one_id_as_a_scalar_and_several_as_an_array() -> None:
    one = read_incidents.sql("postgresql", 1)
    several = read_incidents.sql("postgresql", 3)

    assert one.endswith(' WHERE p."id" = %s')
    assert "ANY" not in one
    assert several.endswith(' WHERE p."id" = ANY(%s)')
    table = ' FROM "incidents_incident" p'
    # A one-id read (an entity write's) also selects the whole row (``whole_rows``).
    assert one.split(table)[0].startswith(several.split(table)[0])
    assert ', p."title", p."description"' in one and 'p."title"' not in several
    assert "incidents_incidentsystem" in one and "ORDER BY" in one


def test_sqlite_reads_ids_with_one_placeholder_each() -> None:
    assert read_incidents.sql("sqlite", 1).endswith(' WHERE p."id" IN (%s)')
    assert read_incidents.sql("sqlite", 3).endswith(' WHERE p."id" IN (%s, %s, %s)')


def test_params_match_the_statement_forms() -> None:
    assert LinkedRowsRead.params("postgresql", ["a"]) == ["a"]
    assert LinkedRowsRead.params("postgresql", ["a", "b", "c"]) == [["a", "b", "c"]]
    assert LinkedRowsRead.params("sqlite", ["a"]) == ["a"]
    assert LinkedRowsRead.params("sqlite", ["a", "b", "c"]) == ["a", "b", "c"]


# -- prepared statements ------------------------------------------------------------------------


def incident_read_plans() -> dict[str, tuple[str, int, int]]:
    """This connection's prepared statements that read incidents with their systems:
    ``{name: (statement, generic_plans, custom_plans)}``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement, generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ["%incidents_incidentsystem%"],
        )
        return {name: (statement, generic, custom) for name, statement, generic, custom in cursor}


@pytest.mark.postgres
@pytest.mark.django_db
def test_on_postgresql_the_incident_read_is_planned_once_not_on_every_write(
    systems: list[str],
) -> None:
    incident = make_incident(["db", "api"])
    connection.ensure_connection()
    before = incident_read_plans()  # statements of earlier tests on this connection
    raw = connection.connection
    threshold = raw.prepare_threshold
    raw.prepare_threshold = 0  # prepare on first use (the URL's default is after five runs)
    try:
        for severity in ["critical", "minor"] * 6:
            services.update_incident(incident.pk, severity=severity)
    finally:
        raw.prepare_threshold = threshold

    assert read_incidents([incident.pk])[incident.pk]["severity"] == "minor"
    after = incident_read_plans()
    used = {name: plans for name, plans in after.items() if plans != before.get(name)}
    assert used  # the writes' reads were prepared
    for name, (statement, generic_plans, custom_plans) in used.items():
        generic_before = before.get(name, ("", 0, 0))[1]
        assert generic_plans > generic_before, statement  # a generic plan is being reused
        assert custom_plans <= 5, statement  # not planned again for every write


def test_a_one_id_read_keeps_the_whole_row_for_take_row_once(systems: list[str]) -> None:
    incident = make_incident(("db", "web"), title="Disk full", suppress_notifications=True)
    incident.refresh_from_db()

    state = read_incidents([incident.pk])[incident.pk]
    row = read_incidents.take_row(incident.pk)

    assert state["systemIds"] == ["db", "web"]
    assert isinstance(row, Incident) and not row._state.adding
    fields = [f.attname for f in Incident._meta.concrete_fields]
    assert {f: getattr(row, f) for f in fields} == {f: getattr(incident, f) for f in fields}
    assert row.suppress_notifications is True and row.updated_at.tzinfo is not None
    assert read_incidents.take_row(incident.pk) is None  # once


def test_take_row_gives_nothing_for_another_row_or_a_read_of_several(
    systems: list[str],
) -> None:
    first, second = make_incident(("db",)), make_incident(("api",))

    read_incidents([first.pk])
    assert read_incidents.take_row(second.pk) is None

    read_incidents([first.pk, second.pk])
    assert read_incidents.take_row(first.pk) is None


def test_an_incident_write_changes_the_row_its_lock_read_returned(systems: list[str]) -> None:
    incident = make_incident(("db",))

    with CaptureQueriesContext(connection) as captured:
        services.update_incident(incident.pk, severity="critical")

    orm_reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith("SELECT")
        and '"incidents_incident"."title"' in q["sql"]
    ]
    assert orm_reads == []  # no Incident.objects.get() of the row the lock read returned
    incident.refresh_from_db()
    assert incident.severity == "critical"
