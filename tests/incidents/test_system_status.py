"""The ``incidents`` source of system statuses: open incidents by health override or severity."""

from __future__ import annotations

import pytest

from checkstack.system_status import SystemStatus as S
from incidents import services
from incidents.system_status import incident_statuses
from tests.incidents.helpers import make_incident

pytestmark = pytest.mark.django_db

ALL = frozenset({"public", "logged_in", "internal"})


@pytest.mark.parametrize(
    ("severity", "override", "status"),
    [
        ("minor", None, S.DEGRADED_PERFORMANCE),
        ("major", None, S.PARTIAL_OUTAGE),
        ("critical", None, S.MAJOR_OUTAGE),
        ("minor", "unhealthy", S.MAJOR_OUTAGE),
        ("critical", "degraded", S.DEGRADED_PERFORMANCE),
    ],
)
def test_an_open_incident_gives_its_systems_a_status(
    systems: list[str], severity: str, override: str | None, status: S
) -> None:
    make_incident(("db", "api"), severity=severity, health_override=override)

    assert incident_statuses(None, ALL) == {"db": status, "api": status}


def test_the_worst_open_incident_of_a_system_wins(systems: list[str]) -> None:
    make_incident(("db",), severity="minor")
    make_incident(("db", "api"), severity="major")
    make_incident(("api",), severity="minor")

    assert incident_statuses(["db", "api", "web"], ALL) == {
        "db": S.PARTIAL_OUTAGE,
        "api": S.PARTIAL_OUTAGE,
    }


def test_resolved_incidents_say_nothing(systems: list[str]) -> None:
    incident = make_incident(("db",), severity="critical")
    services.resolve_incident(incident.pk)

    assert incident_statuses(None, ALL) == {}


def test_only_incidents_the_readers_may_see_count(systems: list[str]) -> None:
    make_incident(("db",), severity="critical", visibility="internal")
    make_incident(("api",), severity="minor", visibility="logged_in")

    assert incident_statuses(None, frozenset({"public"})) == {}
    assert incident_statuses(None, frozenset({"public", "logged_in"})) == {
        "api": S.DEGRADED_PERFORMANCE
    }
    assert incident_statuses(None, ALL) == {
        "db": S.MAJOR_OUTAGE,
        "api": S.DEGRADED_PERFORMANCE,
    }
