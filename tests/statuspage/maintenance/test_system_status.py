"""The system-status port (``checkstack.system_status``) and the maintenance source."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from checkstack import system_status
from checkstack.errors import RegistrationError
from checkstack.system_status import (
    SystemStatus,
    register_status_source,
    system_statuses,
    worst,
)
from incidents import services as incidents
from statuspage.maintenance import services
from tests.statuspage.maintenance.helpers import make_maintenance, running

S = SystemStatus
ALL = frozenset({"public", "logged_in", "internal"})
PUBLIC = frozenset({"public"})


@pytest.fixture
def sources(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An empty source registry for the test (the apps' sources come back afterwards)."""
    registry: dict[str, Any] = {}
    monkeypatch.setattr(system_status, "_sources", registry)
    return registry


def fixed(statuses: dict[str, SystemStatus], calls: list[Any] | None = None) -> Any:
    def source(ids: Collection[str] | None, visibilities: frozenset[str]) -> dict[str, Any]:
        if calls is not None:
            calls.append((ids, visibilities))
        return {i: s for i, s in statuses.items() if ids is None or i in ids}

    return source


# -- the port -------------------------------------------------------------------------------


def test_statuses_rank_from_operational_to_major_outage() -> None:
    assert [s.value for s in sorted(S, key=lambda s: s.rank)] == [
        "operational",
        "under_maintenance",
        "degraded_performance",
        "partial_outage",
        "major_outage",
    ]
    assert [s.rank for s in S] == [0, 1, 2, 3, 4]


def test_worst_wins_and_nothing_is_operational() -> None:
    assert worst([S.UNDER_MAINTENANCE, S.MAJOR_OUTAGE, S.DEGRADED_PERFORMANCE]) is S.MAJOR_OUTAGE
    assert worst([]) is S.OPERATIONAL


def test_the_worst_of_every_source_per_system(sources: dict[str, Any]) -> None:
    register_status_source("a", fixed({"db": S.UNDER_MAINTENANCE, "api": S.PARTIAL_OUTAGE}))
    register_status_source("b", fixed({"db": S.DEGRADED_PERFORMANCE}))

    assert system_statuses(None, visibilities=PUBLIC) == {
        "db": S.DEGRADED_PERFORMANCE,
        "api": S.PARTIAL_OUTAGE,
    }
    assert system_statuses(["web", "db"], visibilities=PUBLIC) == {
        "web": S.OPERATIONAL,
        "db": S.DEGRADED_PERFORMANCE,
    }


def test_each_source_is_asked_once_with_the_ids_and_visibilities(
    sources: dict[str, Any],
) -> None:
    calls: list[Any] = []
    register_status_source("a", fixed({}, calls))

    system_statuses(["db", "api", "db"], visibilities=frozenset({"public", "logged_in"}))
    system_statuses([], visibilities=PUBLIC)

    assert calls == [(["db", "api"], frozenset({"public", "logged_in"}))]


def test_a_source_answering_for_other_systems_does_not_widen_the_answer(
    sources: dict[str, Any],
) -> None:
    register_status_source("sloppy", lambda ids, visibilities: {"other": S.MAJOR_OUTAGE})

    assert system_statuses(["db"], visibilities=PUBLIC) == {"db": S.OPERATIONAL}


def test_registering_checks_the_name_and_refuses_a_second_source_of_one_name(
    sources: dict[str, Any],
) -> None:
    source = fixed({})
    register_status_source("a", source)
    register_status_source("a", source)  # the same one again: harmless

    with pytest.raises(RegistrationError):
        register_status_source("a", fixed({}))
    with pytest.raises(RegistrationError):
        register_status_source(" ", source)
    with pytest.raises(RegistrationError):
        register_status_source("b", "not callable")  # type: ignore[arg-type]


def test_the_apps_register_their_sources() -> None:
    assert set(system_status._sources) >= {"incidents", "maintenance"}


# -- the maintenance source -----------------------------------------------------------------


@pytest.mark.django_db
def test_only_maintenance_in_progress_puts_systems_under_maintenance(systems: list[str]) -> None:
    running(["db", "api"])
    make_maintenance(["web"])
    finished = running(["web"])
    services.complete_maintenance(finished.pk)

    assert services.systems_under_maintenance(None, ALL) == {
        "db": S.UNDER_MAINTENANCE,
        "api": S.UNDER_MAINTENANCE,
    }
    assert services.systems_under_maintenance(["api", "web"], ALL) == {"api": S.UNDER_MAINTENANCE}


@pytest.mark.django_db
def test_maintenance_counts_only_for_readers_who_may_see_it(systems: list[str]) -> None:
    running(["db"], visibility="internal")
    running(["api"], visibility="logged_in")

    assert system_statuses(["db", "api"], visibilities=PUBLIC) == {
        "db": S.OPERATIONAL,
        "api": S.OPERATIONAL,
    }
    assert system_statuses(["db", "api"], visibilities=frozenset({"public", "logged_in"})) == {
        "db": S.OPERATIONAL,
        "api": S.UNDER_MAINTENANCE,
    }
    assert system_statuses(["db", "api"], visibilities=ALL) == {
        "db": S.UNDER_MAINTENANCE,
        "api": S.UNDER_MAINTENANCE,
    }


@pytest.mark.django_db
def test_an_incident_outranks_maintenance(systems: list[str]) -> None:
    running(["db", "api"])
    incidents.create_incident(title="Slow", severity="minor", system_ids=["db"])

    assert system_statuses(["db", "api"], visibilities=PUBLIC) == {
        "db": S.DEGRADED_PERFORMANCE,
        "api": S.UNDER_MAINTENANCE,
    }


@pytest.mark.django_db
def test_one_query_per_source(systems: list[str], django_assert_num_queries: Any) -> None:
    running(["db"])

    with django_assert_num_queries(2):
        system_statuses(["db", "api", "web"], visibilities=ALL)
    with django_assert_num_queries(0):
        system_statuses([], visibilities=ALL)
