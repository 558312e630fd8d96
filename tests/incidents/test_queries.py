"""Incident queries: list filters and ordering, per-system queries, detail visibility, counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents import services
from incidents.models import Incident, IncidentLink, IncidentUpdate
from incidents.services import Audience
from incidents.services.writes import remember_systems
from tests.incidents.helpers import make_incident, make_systems

pytestmark = pytest.mark.django_db


def ids(incidents: Any) -> list[str]:
    return [i.pk for i in incidents]


@pytest.fixture
def board(systems: list[str]) -> dict[str, Incident]:
    """Five incidents across statuses, severities and systems, with distinct times."""
    made = {
        "db_major": make_incident(["db"], title="Database slow"),
        "api_critical": make_incident(["api", "db"], title="API errors", severity="critical"),
        "web_minor": make_incident(["web"], title="Web assets stale", severity="minor"),
        "db_resolved": make_incident(["db"], title="Database failover"),
        "api_fixing": make_incident(["api"], title="API latency"),
    }
    services.resolve_incident(made["db_resolved"].pk)
    services.add_update(made["api_fixing"].pk, message="Fix", status_change="fixing")
    start = timezone.now() - dt.timedelta(days=1)
    for n, incident in enumerate(made.values()):
        Incident.objects.filter(pk=incident.pk).update(
            created_at=start + dt.timedelta(hours=n),
            updated_at=start + dt.timedelta(hours=10 - n),
        )
    return made


def test_list_hides_resolved_by_default_and_orders_by_latest_update(
    board: dict[str, Incident],
) -> None:
    assert ids(services.list_incidents()) == [
        board[k].pk for k in ("db_major", "api_critical", "web_minor", "api_fixing")
    ]


def test_list_includes_resolved_when_asked(board: dict[str, Incident]) -> None:
    listed = ids(services.list_incidents(include_resolved=True))
    assert len(listed) == 5
    assert board["db_resolved"].pk in listed


def test_status_filter_ignores_include_resolved(board: dict[str, Incident]) -> None:
    assert ids(services.list_incidents(status="resolved")) == [board["db_resolved"].pk]
    assert ids(services.list_incidents(status="resolved", include_resolved=False)) == [
        board["db_resolved"].pk
    ]
    assert ids(services.list_incidents(status="fixing", include_resolved=True)) == [
        board["api_fixing"].pk
    ]


def test_system_filter(board: dict[str, Incident]) -> None:
    assert ids(services.list_incidents(system_id="db")) == [
        board["db_major"].pk,
        board["api_critical"].pk,
    ]
    assert ids(services.list_incidents(system_id="db", include_resolved=True)) == [
        board[k].pk for k in ("db_major", "api_critical", "db_resolved")
    ]


def test_severity_filter(board: dict[str, Incident]) -> None:
    assert ids(services.list_incidents(severity="critical")) == [board["api_critical"].pk]
    assert ids(services.list_incidents(severity="major", include_resolved=True)) == [
        board[k].pk for k in ("db_major", "db_resolved", "api_fixing")
    ]


def test_title_search_is_case_insensitive(board: dict[str, Incident]) -> None:
    assert ids(services.list_incidents(search="  database ", include_resolved=True)) == [
        board["db_major"].pk,
        board["db_resolved"].pk,
    ]
    assert ids(services.list_incidents(search="api")) == [
        board["api_critical"].pk,
        board["api_fixing"].pk,
    ]


def test_filters_combine(board: dict[str, Incident]) -> None:
    assert ids(services.list_incidents(system_id="api", severity="major")) == [
        board["api_fixing"].pk
    ]


def test_ordering_by_creation_time(board: dict[str, Incident]) -> None:
    active = [board[k].pk for k in ("db_major", "api_critical", "web_minor", "api_fixing")]
    assert ids(services.list_incidents(ordering="created_at")) == active
    assert ids(services.list_incidents(ordering="-created_at")) == active[::-1]
    assert ids(services.list_incidents(ordering="updated_at")) == active[::-1]


def test_unknown_ordering_is_rejected(db: None) -> None:
    with pytest.raises(ValidationError) as exc:
        services.list_incidents(ordering="title; drop table")
    assert "ordering" in exc.value.message_dict


def test_list_carries_each_incidents_systems_sorted(board: dict[str, Incident]) -> None:
    listed = {i.pk: [s.system_id for s in i.systems.all()] for i in services.list_incidents()}
    assert listed[board["api_critical"].pk] == ["api", "db"]


# -- per-system queries -----------------------------------------------------------------------


def test_active_incidents_for_a_system(board: dict[str, Incident]) -> None:
    assert set(ids(services.active_incidents_for_system("db"))) == {
        board["db_major"].pk,
        board["api_critical"].pk,
    }
    assert list(services.active_incidents_for_system("unknown")) == []


def test_active_incidents_grouped_by_system(board: dict[str, Incident]) -> None:
    grouped = services.active_incidents_by_system(["db", "api", "nothing", "db"])
    assert {k: ids(v) for k, v in grouped.items()} == {
        "db": [board["db_major"].pk, board["api_critical"].pk],
        "api": [board["api_critical"].pk, board["api_fixing"].pk],
        "nothing": [],
    }


def test_suppression_counts_only_active_incidents_of_the_system(systems: list[str]) -> None:
    quiet = make_incident(["db"], suppress_notifications=True)
    make_incident(["api"])
    assert services.has_active_incident_with_suppression("db") is True
    assert services.has_active_incident_with_suppression("api") is False
    assert services.has_active_incident_with_suppression("web") is False

    services.resolve_incident(quiet.pk)

    assert services.has_active_incident_with_suppression("db") is False


def test_health_overrides_of_active_incidents(systems: list[str]) -> None:
    unhealthy = make_incident(["db", "api"], title="Down", health_override="unhealthy")
    degraded = make_incident(["db"], title="Slow", health_override="degraded")
    make_incident(["web"], title="No override")
    resolved = make_incident(["web"], title="Was down", health_override="unhealthy")
    services.resolve_incident(resolved.pk)
    Incident.objects.filter(pk=degraded.pk).update(
        created_at=timezone.now() + dt.timedelta(minutes=1)
    )

    overrides = services.get_active_health_overrides(["db", "api", "web", "other"])

    assert overrides == {
        "db": [
            {"status": "unhealthy", "incident_id": unhealthy.pk, "incident_title": "Down"},
            {"status": "degraded", "incident_id": degraded.pk, "incident_title": "Slow"},
        ],
        "api": [{"status": "unhealthy", "incident_id": unhealthy.pk, "incident_title": "Down"}],
    }
    services.update_incident(unhealthy.pk, health_override=None)
    assert services.get_active_health_overrides(["api"]) == {}


# -- detail and visibility ----------------------------------------------------------------------


def test_detail_shows_only_what_the_audience_may_see(systems: list[str]) -> None:
    incident = make_incident(["db", "api"])
    for visibility in ("public", "logged_in", "internal"):
        services.add_update(incident.pk, message=visibility, visibility=visibility)
        services.add_link(
            incident.pk, url=f"https://example.com/{visibility}", visibility=visibility
        )

    def seen(audience: Audience) -> tuple[list[str], list[str]]:
        detail = services.get_incident(incident.pk, audience=audience)
        return (
            [u.message for u in detail.updates.all()],
            [link.url.rsplit("/", 1)[1] for link in detail.links.all()],
        )

    assert seen(Audience.PUBLIC) == (["public"], ["public"])
    assert seen(Audience.LOGGED_IN) == (["public", "logged_in"], ["public", "logged_in"])
    everything = ["public", "logged_in", "internal"]
    assert seen(Audience.MANAGER) == (everything, everything)
    detail = services.get_incident(incident.pk)
    assert [s.system_id for s in detail.systems.all()] == ["api", "db"]


def test_detail_of_a_written_incident_reads_its_updates_and_links_in_one_query_as_get_shows_them(
    systems: list[str], django_assert_num_queries: Any
) -> None:
    from django.contrib.auth.models import User

    from incidents.api.serializers import IncidentDetailSerializer

    named = User.objects.create_user("mona", first_name="Mona", last_name="Manager")
    plain = User.objects.create_user("pat")
    gone = User.objects.create_user("gone")
    incident = make_incident(["db", "api"])
    moment = timezone.now()
    for n, (visibility, author) in enumerate(
        [("internal", named), ("public", plain), ("logged_in", gone), ("public", None)]
    ):
        update = services.add_update(
            incident.pk, message=f"u{n}", visibility=visibility, actor=author,
            status_change="identified" if n == 1 else None,
        )  # fmt: skip
        IncidentUpdate.objects.filter(pk=update.pk).update(
            created_at=moment + dt.timedelta(seconds=n)
        )
        services.add_link(
            incident.pk, url=f"https://example.com/{n}", label=None if n else "Runbook",
            visibility=visibility,
        )  # fmt: skip
    # The links at one time: ordered by id then, as the two-query prefetch orders them.
    IncidentLink.objects.filter(incident_id=incident.pk).update(created_at=moment)
    services.edit_update(incident.pk, update.pk, message="edited")  # an edit history
    gone.delete()

    for audience in Audience:
        expected = IncidentDetailSerializer(
            services.get_incident(incident.pk, audience=audience), context={"audience": audience}
        ).data
        written = Incident.objects.get(pk=incident.pk)
        remember_systems(written, ["api", "db"])  # as a write leaves them
        with django_assert_num_queries(1):
            shown = IncidentDetailSerializer(
                services.detail_of(written, audience=audience), context={"audience": audience}
            ).data

        assert shown == expected, audience
        assert [u["message"] for u in shown["updates"]] == {
            Audience.PUBLIC: ["u1", "edited"],
            Audience.LOGGED_IN: ["u1", "u2", "edited"],
            Audience.MANAGER: ["u0", "u1", "u2", "edited"],
        }[audience]
    assert [u["created_by_name"] for u in shown["updates"]] == ["Mona Manager", "pat", None, None]
    assert shown["updates"][3]["edit_history"][0]["message"] == "u3"
    assert sorted((link["url"][-1], link["label"]) for link in shown["links"]) == [
        ("0", "Runbook"), ("1", None), ("2", None), ("3", None),
    ]  # fmt: skip
    assert [link["id"] for link in shown["links"]] == sorted(link["id"] for link in shown["links"])


def test_detail_of_unknown_incident_is_not_found(db: None) -> None:
    from checkstack.errors import NotFound

    with pytest.raises(NotFound):
        services.get_incident("missing")


# -- query counts -------------------------------------------------------------------------------


def list_with_systems() -> list[tuple[str, list[str]]]:
    return [(i.pk, [s.system_id for s in i.systems.all()]) for i in services.list_incidents()]


def test_listing_incidents_with_systems_takes_constant_queries(
    db: None, django_assert_num_queries: Any
) -> None:
    make_systems("s1", "s2", "s3")
    for n in range(5):
        make_incident(["s1", "s2", "s3"], title=f"incident {n}")
    with django_assert_num_queries(2):
        few = list_with_systems()
    assert len(few) == 5

    for n in range(5, 50):
        make_incident(["s1", "s2", "s3"], title=f"incident {n}")
    with django_assert_num_queries(2):
        many = list_with_systems()
    assert len(many) == 50
    assert all(systems == ["s1", "s2", "s3"] for _, systems in many)


def test_detail_takes_constant_queries(systems: list[str], django_assert_num_queries: Any) -> None:
    incident = make_incident(["db", "api"])
    for n in range(10):
        services.add_update(incident.pk, message=f"update {n}")
        services.add_link(incident.pk, url=f"https://example.com/{n}")

    with django_assert_num_queries(4):
        detail = services.get_incident(incident.pk)
        assert len(detail.updates.all()) == 10
        assert len(detail.links.all()) == 10
        assert [u.created_by for u in detail.updates.all()] == [None] * 10
