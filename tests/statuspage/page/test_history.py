"""The 90-day strip: each day's cell is the worst state of that day, from the change log (and
the incidents already open when the window begins); the tooltip names that day's incidents."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from checkstack.system_status import SystemStatus
from incidents import services
from incidents.models import Incident
from incidents.services import Audience
from statuspage.maintenance import services as maintenance
from statuspage.page import queries
from statuspage.page.history import DayCell, Event, Stream, day_window, spells, strips
from tests.statuspage.page.conftest import Clock

DAY = dt.timedelta(days=1)
UTC = dt.UTC


def noon(days_ago: int) -> dt.datetime:
    """Noon of the day ``days_ago`` days before today (the test settings' zone is UTC); call
    it outside ``clock()``, whose today is another day."""
    today = timezone.localdate()
    return dt.datetime.combine(today - days_ago * DAY, dt.time(12), tzinfo=UTC)


def cells_of(system_id: str, audience: Audience = Audience.PUBLIC) -> list[DayCell]:
    page = queries.overview(audience)
    return next(s for s in page.catalog.systems if s.id == system_id).cells


def day(cells: list[DayCell], days_ago: int) -> DayCell:
    return cells[len(cells) - 1 - days_ago]


@pytest.fixture(autouse=True)
def old_systems(systems: list[str]) -> None:
    """The catalog systems existed long before the window (so no day is 'no data')."""
    from catalog.models import System

    System.objects.update(created_at=timezone.now() - 200 * DAY)


def test_an_incident_open_three_days_ago_and_resolved_since_marks_those_days(
    clock: Clock,
) -> None:
    with clock(noon(3)):
        incident = services.create_incident(title="Disk full", system_ids=["db"])
    with clock(noon(1)):
        services.resolve_incident(incident.pk)

    cells = cells_of("db")

    assert len(cells) == 90
    assert [day(cells, n).status for n in (4, 3, 2, 1, 0)] == [
        SystemStatus.OPERATIONAL,
        SystemStatus.PARTIAL_OUTAGE,
        SystemStatus.PARTIAL_OUTAGE,
        SystemStatus.PARTIAL_OUTAGE,
        SystemStatus.OPERATIONAL,
    ]
    assert "Disk full (partial outage)" in day(cells, 2).summary
    assert "Disk full" not in day(cells, 0).summary
    assert all(c.status is SystemStatus.OPERATIONAL for c in cells if c not in cells[-5:])
    assert {c.status for c in cells_of("api")} == {SystemStatus.OPERATIONAL}


def test_the_worst_state_of_a_day_wins(clock: Clock) -> None:
    with clock(noon(2)):
        minor = services.create_incident(title="Slow", system_ids=["db"], severity="minor")
    with clock(noon(2) + dt.timedelta(hours=1)):
        critical = services.create_incident(title="Down", system_ids=["db"], severity="critical")
    with clock(noon(2) + dt.timedelta(hours=2)):
        services.resolve_incident(critical.pk)
    with clock(noon(1)):
        services.resolve_incident(minor.pk)

    cells = cells_of("db")

    assert day(cells, 2).status is SystemStatus.MAJOR_OUTAGE
    assert day(cells, 2).events == {
        Event("incident", minor.pk, "Slow"): SystemStatus.DEGRADED_PERFORMANCE,
        Event("incident", critical.pk, "Down"): SystemStatus.MAJOR_OUTAGE,
    }
    assert day(cells, 1).status is SystemStatus.DEGRADED_PERFORMANCE


def three_days(clock: Clock, opened_as: str, **change: Any) -> None:
    """An incident on ``db`` opened (severity ``opened_as``) three days ago at noon, changed
    by ``update_incident(**change)`` two days ago, resolved yesterday."""
    with clock(noon(3)):
        incident = services.create_incident(title="Flaky", system_ids=["db"], severity=opened_as)
    with clock(noon(2)):
        services.update_incident(incident.pk, **change)
    with clock(noon(1)):
        services.resolve_incident(incident.pk)


def test_a_severity_raised_later_in_the_day_counts_for_that_day_only_from_then(
    clock: Clock,
) -> None:
    three_days(clock, "minor", severity="critical")

    cells = cells_of("db")

    assert day(cells, 3).status is SystemStatus.DEGRADED_PERFORMANCE
    assert day(cells, 2).status is SystemStatus.MAJOR_OUTAGE
    assert day(cells, 1).status is SystemStatus.MAJOR_OUTAGE


def test_an_incident_open_before_the_window_marks_every_day_since(clock: Clock) -> None:
    with clock(timezone.now() - 120 * DAY):
        incident = services.create_incident(title="Long one", system_ids=["web"])
    Incident.objects.filter(pk=incident.pk).update(created_at=timezone.now() - 120 * DAY)
    with clock(noon(10)):
        services.update_incident(incident.pk, severity="minor")

    cells = cells_of("web")

    assert day(cells, 89).status is SystemStatus.PARTIAL_OUTAGE
    assert day(cells, 11).status is SystemStatus.PARTIAL_OUTAGE
    assert day(cells, 9).status is SystemStatus.DEGRADED_PERFORMANCE
    assert day(cells, 0).status is SystemStatus.DEGRADED_PERFORMANCE


def test_an_incident_resolved_before_the_window_is_not_in_it(clock: Clock) -> None:
    with clock(timezone.now() - 120 * DAY):
        incident = services.create_incident(title="Ancient", system_ids=["web"])
        services.resolve_incident(incident.pk)
    Incident.objects.filter(pk=incident.pk).update(created_at=timezone.now() - 120 * DAY)

    assert {c.status for c in cells_of("web")} == {SystemStatus.OPERATIONAL}


def test_moving_an_incident_to_other_systems_moves_its_marks(clock: Clock) -> None:
    three_days(clock, "major", system_ids=["api"])

    db, api = cells_of("db"), cells_of("api")

    assert [day(db, n).status.rank for n in (3, 2, 1)] == [3, 3, 0]
    assert [day(api, n).status.rank for n in (3, 2, 1)] == [0, 3, 3]


def test_a_deleted_incident_leaves_the_history(clock: Clock) -> None:
    with clock(noon(3)):
        incident = services.create_incident(title="Mistake", system_ids=["db"])
    services.delete_incident(incident.pk)

    assert {c.status for c in cells_of("db")} == {SystemStatus.OPERATIONAL}


def test_the_current_health_override_decides_the_marks(clock: Clock) -> None:
    with clock(noon(2)):
        services.create_incident(
            title="Degraded only",
            system_ids=["db"],
            severity="critical",
            health_override="degraded",
        )

    assert day(cells_of("db"), 1).status is SystemStatus.DEGRADED_PERFORMANCE


def test_a_hidden_incident_marks_no_day_for_that_audience(clock: Clock) -> None:
    with clock(noon(2)):
        services.create_incident(title="Members", system_ids=["db"], visibility="logged_in")
        services.create_incident(title="Staff", system_ids=["db"], visibility="internal")

    assert day(cells_of("db"), 1).status is SystemStatus.OPERATIONAL
    logged_in = day(cells_of("db", Audience.LOGGED_IN), 1)
    assert logged_in.status is SystemStatus.PARTIAL_OUTAGE
    assert [e.title for e in logged_in.events] == ["Members"]


def test_maintenance_in_progress_marks_its_days(clock: Clock) -> None:
    created, started, completed = noon(3), noon(3) + dt.timedelta(minutes=1), noon(2)
    with clock(created):
        item = maintenance.create_maintenance(
            title="Upgrade", system_ids=["api"], starts_at=started, ends_at=created + 3 * DAY
        )
    with clock(started):
        maintenance.start_maintenance(item.pk)
    with clock(completed):
        maintenance.complete_maintenance(item.pk)

    cells = cells_of("api")

    assert day(cells, 3).status is SystemStatus.UNDER_MAINTENANCE
    assert day(cells, 2).status is SystemStatus.UNDER_MAINTENANCE
    assert day(cells, 1).status is SystemStatus.OPERATIONAL
    assert "Upgrade (under maintenance)" in day(cells, 3).summary


def test_days_before_a_system_existed_have_no_data() -> None:
    from catalog.models import System

    System.objects.filter(pk="db").update(created_at=timezone.now() - 5 * DAY)

    cells = cells_of("db")

    assert [day(cells, 7).status, day(cells, 6).status] == [None, None]
    assert day(cells, 5).status is SystemStatus.OPERATIONAL
    assert day(cells, 6).summary.endswith("no data")


def test_the_page_shows_one_cell_per_day_with_its_tooltip(clock: Clock, anon: Client) -> None:
    with clock(noon(3)):
        services.create_incident(title="Disk full", system_ids=["db"])

    body = anon.get("/status/").content.decode()

    assert body.count('class="cell ') == 90 * 3  # db, api, web
    assert 'title="' in body and "Disk full (partial outage)" in body
    assert 'class="visually-hidden">' in body


# -- the derivation alone ---------------------------------------------------------------------


def test_a_zero_length_spell_still_marks_its_day() -> None:
    at = noon(1)
    stream = Stream(
        Event("incident", "x", "Blip"),
        lambda state: SystemStatus.MAJOR_OUTAGE if state["status"] != "resolved" else None,
        changes=[
            (at, {"status": "investigating", "systemIds": ["db"]}),
            (at, {"status": "resolved", "systemIds": ["db"]}),
        ],
    )
    days = day_window(timezone.localdate(), 3)
    start = dt.datetime.combine(days[0], dt.time(), tzinfo=UTC)

    cells = strips(["db"], spells([stream], start=start, now=timezone.now()), days=days, tz=UTC)

    assert [c.status for c in cells["db"]] == [
        SystemStatus.OPERATIONAL,
        SystemStatus.MAJOR_OUTAGE,
        SystemStatus.OPERATIONAL,
    ]


def test_a_spell_ending_at_midnight_does_not_touch_the_next_day() -> None:
    days = day_window(dt.date(2026, 5, 10), 3)
    midnight = dt.datetime(2026, 5, 9, tzinfo=UTC)
    stream = Stream(
        Event("incident", "x", "Late"),
        lambda state: SystemStatus.PARTIAL_OUTAGE if state["status"] != "resolved" else None,
        changes=[
            (midnight - dt.timedelta(hours=1), {"status": "investigating", "systemIds": ["db"]}),
            (midnight, {"status": "resolved", "systemIds": ["db"]}),
        ],
    )
    start = dt.datetime(2026, 5, 8, tzinfo=UTC)
    now = dt.datetime(2026, 5, 10, 12, tzinfo=UTC)

    cells = strips(["db"], spells([stream], start=start, now=now), days=days, tz=UTC)

    assert [c.status.rank for c in cells["db"]] == [3, 0, 0]  # type: ignore[union-attr]
