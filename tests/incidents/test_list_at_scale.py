"""What keeps the incident list flat as the table grows: the link rows' copy of the incident's
``updated_at`` (kept by database triggers, migration 0003) that the system-filtered list sorts
on, and (PostgreSQL) the plans that read one page from an index instead of the whole table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentSystem
from tests.plans import fresh_tables


def sort_keys(incident_id: str) -> set[Any]:
    return set(
        IncidentSystem.objects.filter(incident_id=incident_id).values_list(
            "incident_updated_at", flat=True
        )
    )


def active_flags(incident_id: str) -> set[bool]:
    return set(
        IncidentSystem.objects.filter(incident_id=incident_id).values_list(
            "incident_active", flat=True
        )
    )


def test_new_links_carry_their_incidents_updated_at(systems: list[str]) -> None:
    incident = services.create_incident(title="Down", system_ids=["api", "db"])

    incident.refresh_from_db()
    assert sort_keys(incident.pk) == {incident.updated_at}


@pytest.mark.parametrize(
    "write",
    [
        lambda pk: services.update_incident(pk, severity="critical"),
        lambda pk: services.add_update(pk, message="Looking", status_change="identified"),
        lambda pk: services.resolve_incident(pk),
        lambda pk: services.update_incident(pk, system_ids=["api", "db", "web"]),
    ],
    ids=["field", "timeline", "resolve", "systems"],
)
def test_every_write_moves_the_links_sort_key_along(systems: list[str], write: Any) -> None:
    incident = services.create_incident(title="Down", system_ids=["api", "db"])
    Incident.objects.filter(pk=incident.pk).update(updated_at=timezone.now() - dt.timedelta(1))

    write(incident.pk)

    incident.refresh_from_db()
    assert sort_keys(incident.pk) == {incident.updated_at}
    assert incident.updated_at > timezone.now() - dt.timedelta(minutes=1)
    assert active_flags(incident.pk) == {incident.status != "resolved"}


def test_resolving_and_reopening_flip_the_links_active_flag(systems: list[str]) -> None:
    incident = services.create_incident(title="Down", system_ids=["api", "db"])
    assert active_flags(incident.pk) == {True}

    services.resolve_incident(incident.pk)
    assert active_flags(incident.pk) == {False}
    services.update_incident(incident.pk, system_ids=["api", "db", "web"])
    assert active_flags(incident.pk) == {False}  # a link added to a resolved incident

    Incident.objects.filter(pk=incident.pk).update(status="identified")
    assert active_flags(incident.pk) == {True}


def test_the_system_filter_lists_active_incidents_by_default_and_all_when_asked(
    systems: list[str],
) -> None:
    active = services.create_incident(title="Active", system_ids=["db"])
    resolved = services.create_incident(title="Resolved", system_ids=["db"])
    services.resolve_incident(resolved.pk)

    assert [i.pk for i in services.list_incidents(system_id="db")] == [active.pk]
    everything = services.list_incidents(system_id="db", include_resolved=True)
    assert {i.pk for i in everything} == {active.pk, resolved.pk}
    by_status = services.list_incidents(system_id="db", status="resolved")
    assert [i.pk for i in by_status] == [resolved.pk]


def test_a_bulk_update_outside_the_services_keeps_it_too(systems: list[str]) -> None:
    incident = services.create_incident(title="Down", system_ids=["api"])
    moment = timezone.now() - dt.timedelta(days=3)

    Incident.objects.filter(pk=incident.pk).update(updated_at=moment)

    assert sort_keys(incident.pk) == {moment}


def test_a_stale_value_written_into_a_link_row_is_corrected(systems: list[str]) -> None:
    incident = services.create_incident(title="Down", system_ids=["api"])
    link = IncidentSystem.objects.get(incident_id=incident.pk)

    IncidentSystem.objects.filter(pk=link.pk).update(incident_updated_at=timezone.now())

    incident.refresh_from_db()
    assert sort_keys(incident.pk) == {incident.updated_at}


def test_the_system_filter_keeps_the_updated_at_order(systems: list[str]) -> None:
    base = timezone.now()
    made = []
    for n, minutes in enumerate([5, 1, 9, 3, 7]):
        incident = services.create_incident(title=f"I{n}", system_ids=["db", "web"])
        Incident.objects.filter(pk=incident.pk).update(
            updated_at=base - dt.timedelta(minutes=minutes)
        )
        made.append((minutes, incident.pk))
    services.create_incident(title="Other system", system_ids=["api"])

    for ordering, reverse in (("-updated_at", False), ("updated_at", True)):
        listed = list(services.list_incidents(system_id="db", ordering=ordering))
        expected = [pk for _, pk in sorted(made, reverse=reverse)]
        assert [i.pk for i in listed] == expected
        assert [i.updated_at for i in listed] == [i.system_updated_at for i in listed]


def plan(sql: str, params: Any, *turned_off: str) -> str:
    """The plan with seqscan and ``turned_off`` made prohibitively expensive (small tables), on
    the statistics and index sizes of the test's rows alone (``tests.plans.fresh_tables``;
    the tests using it run in transactions of their own)."""
    fresh_tables("incidents_incident", "incidents_incidentsystem")
    with transaction.atomic(), connection.cursor() as cursor:
        for method in ("seqscan", *turned_off):
            cursor.execute(f"SET LOCAL enable_{method} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_system_page_is_read_in_order_from_the_system_index(systems: list[str]) -> None:
    for n in range(20):
        services.create_incident(title=f"I{n}", system_ids=["db"] if n % 2 else ["api"])
    queryset = services.list_incidents(
        system_id="db", include_resolved=True, visibilities=["public"]
    )[:51]
    sql, params = queryset.query.sql_with_params()

    explained = plan(sql, params, "sort")

    assert "incidents_system_sort_idx" in explained
    assert "Sort" not in explained.replace("Sort Key", "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_search_can_use_the_trigram_index(systems: list[str]) -> None:
    for n in range(20):
        services.create_incident(title=f"Incident {n} elevated errors", system_ids=["db"])
    queryset = services.list_incidents(search="incident 17", include_resolved=True)[:51]
    sql, params = queryset.query.sql_with_params()

    explained = plan(sql, params, "indexscan")  # not the walk of incidents_updated_idx

    assert "incidents_title_trgm_idx" in explained


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({}, "incidents_active_idx"),
        ({"severity": "critical"}, "incidents_active_idx"),
        ({"status": "identified"}, "incidents_status_idx"),
        ({"system_id": "db"}, "incidents_system_active_idx"),
    ],
)
def test_list_pages_read_in_order_from_an_index_that_skips_resolved_incidents(
    systems: list[str], filters: dict[str, str], index: str
) -> None:
    for n in range(30):
        incident = services.create_incident(title=f"I{n}", system_ids=["db"])
        if n % 10:
            services.resolve_incident(incident.pk)  # most of a long-lived installation
    queryset = services.list_incidents(**filters, visibilities=["public"])[:51]
    sql, params = queryset.query.sql_with_params()

    explained = plan(sql, params, "sort", "bitmapscan")

    assert index in explained
    assert "Sort" not in explained.replace("Sort Key", "")


def test_the_triggers_exist_after_all_migrations(db: None) -> None:
    """A later migration that rebuilt a table on SQLite would drop them silently."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'incidents_system_sort_key%%'"
            )
            expected = {"incidents_system_sort_key_fill", "incidents_system_sort_key_sync"}
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'incidents_system_sort_key%'"
            )
            expected = {
                f"incidents_system_sort_key_{name}"
                for name in ("fill_insert", "fill_update", "sync_insert", "sync_update")
            }
        assert {row[0] for row in cursor.fetchall()} == expected


@pytest.mark.postgres
def test_the_search_expression_keeps_a_fine_histogram(db: None) -> None:
    """Migration 0008: with the default 100 buckets a term in 1 % of the titles is estimated at
    1 % or at 0.01 % from one ANALYZE to the next, and the low estimate reads every match."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstattarget FROM pg_attribute "
            "WHERE attrelid = 'incidents_title_trgm_idx'::regclass AND attnum = 1"
        )
        assert cursor.fetchone() == (1000,)
