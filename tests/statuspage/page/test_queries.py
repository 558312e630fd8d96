"""Query counts of the page: constant in the number of systems, groups, incidents, updates and
maintenance; a warm read from the cache makes at most one query."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from catalog import services as catalog
from incidents import services
from tests.statuspage.page.helpers import incident_with_timeline, running_maintenance

PATHS = ["/status/", "/status/summary.json", "/status/history/", "/status/feed.atom"]


def populate(size: int) -> None:
    """``size`` systems in ``size // 2`` groups, ``size`` incidents (every other one resolved)
    with updates, and ``size // 2`` running maintenances."""
    ids = [f"sys-{n}" for n in range(size)]
    for system_id in ids:
        catalog.create_system(id=system_id, name=system_id.upper())
    for n in range(size // 2):
        catalog.create_group(id=f"group-{n}", name=f"Group {n}", system_ids=ids[n::3])
    for n in range(size):
        incident = incident_with_timeline(
            "public", system_ids=(ids[n], ids[(n + 1) % size]), severity="minor"
        )
        if n % 2:
            services.resolve_incident(incident.pk)
    for n in range(size // 2):
        running_maintenance("public", system_ids=(ids[n],))


def queries_of(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


@pytest.mark.parametrize("path", PATHS)
def test_a_cold_read_makes_as_many_queries_for_twenty_as_for_two(
    db: None, anon: Client, settings: Any, path: str
) -> None:
    settings.CHECKSTACK_STATUS_CACHE_SECONDS = 0
    populate(2)
    few = queries_of(anon, path)
    # Then twenty more of everything.
    for n in range(20):
        catalog.create_system(id=f"more-{n}", name=f"More {n}")
        incident_with_timeline("public", system_ids=(f"more-{n}",))
        running_maintenance("public", system_ids=(f"more-{n}",))

    many = queries_of(anon, path)

    assert many == few, path
    assert few <= 20


def test_the_page_needs_few_queries_however_large(
    db: None, anon: Client, settings: Any, django_assert_max_num_queries: Any
) -> None:
    settings.CHECKSTACK_STATUS_CACHE_SECONDS = 0
    populate(20)

    with django_assert_max_num_queries(17):
        assert anon.get("/status/").status_code == 200


@pytest.mark.parametrize("path", [*PATHS, "/status/badge/db.svg", "/status/feed.rss"])
def test_a_warm_anonymous_read_makes_at_most_one_query(
    systems: list[str], anon: Client, django_assert_max_num_queries: Any, path: str
) -> None:
    populate(5)
    assert anon.get(path).status_code == 200

    with django_assert_max_num_queries(1):
        assert anon.get(path).status_code == 200


def test_a_warm_logged_in_read_makes_only_the_logins_queries(
    systems: list[str], user_client: Client
) -> None:
    """Django's session and user lookups (two queries with database sessions), nothing else."""
    populate(5)
    user_client.get("/status/")

    with CaptureQueriesContext(connection) as captured:
        assert user_client.get("/status/").status_code == 200

    tables = {q["sql"].split(" FROM ")[1].split()[0].strip('"') for q in captured}
    assert tables <= {"django_session", "auth_user"}
