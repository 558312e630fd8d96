"""Cursor (keyset) pagination, ``?cursor=``: the same rows in the same order as page numbers,
no ``count`` and no ``COUNT(*)``, stable while rows are added, and a 400 for a bad cursor."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.api.helpers import make_incident
from tests.plans import fresh_tables

BASE = timezone.now().replace(microsecond=0)


def seed(
    count: int, *, same_time_every: int = 1, status: str | None = None, **fields: Any
) -> list[str]:
    """``count`` incidents; ``same_time_every`` incidents share one updated_at (ties)."""
    ids = []
    for n in range(count):
        incident = make_incident(title=f"Incident {n:02d}", **fields)
        moment = BASE - dt.timedelta(minutes=n // same_time_every)
        Incident.objects.filter(pk=incident.pk).update(
            updated_at=moment, created_at=moment, status=status or incident.status
        )
        ids.append(incident.pk)
    return ids


def all_by_page_numbers(client: APIClient, query: str) -> list[str]:
    data = client.get(f"/api/incidents/?page_size=200&{query}").json()
    return [row["id"] for row in data["results"]]


def walk(client: APIClient, url: str, direction: str = "next") -> list[list[str]]:
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        data = response.json()
        assert "count" not in data
        pages.append([row["id"] for row in data["results"]])
        url = data[direction]
    return pages


@pytest.mark.parametrize(
    "query",
    ["", "ordering=created_at", "ordering=-severity", "ordering=severity", "include_resolved=1"],
)
def test_walking_the_next_links_gives_every_row_once_in_order(
    anon: APIClient, systems: list[str], query: str
) -> None:
    rng = random.Random(7)
    seed(7, same_time_every=3)  # ties on updated_at, broken by id
    for severity in ("minor", "critical"):
        for pk in seed(2, severity=severity):
            Incident.objects.filter(pk=pk).update(
                updated_at=BASE - dt.timedelta(minutes=rng.randint(0, 3))
            )
    expected = all_by_page_numbers(anon, query)
    assert len(expected) == 11

    pages = walk(anon, f"/api/incidents/?page_size=3&cursor=&{query}")

    assert [len(page) for page in pages] == [3, 3, 3, 2]
    assert [pk for page in pages for pk in page] == expected


def test_the_previous_links_walk_back_through_the_same_pages(
    anon: APIClient, systems: list[str]
) -> None:
    seed(8, same_time_every=2)
    forwards = walk(anon, "/api/incidents/?page_size=3&cursor=")
    last = anon.get("/api/incidents/?page_size=3&cursor=")
    url = last.json()["next"]
    while (data := anon.get(url).json())["next"]:
        url = data["next"]

    backwards = walk(anon, url, direction="previous")

    assert backwards == forwards[::-1]
    assert anon.get("/api/incidents/?page_size=3&cursor=").json()["previous"] is None
    # From a page reached backwards, next leads forwards again.
    before_last = anon.get(data["previous"]).json()
    assert [row["id"] for row in anon.get(before_last["next"]).json()["results"]] == forwards[-1]


def test_a_cursor_page_runs_no_count_and_a_fixed_number_of_queries(
    anon: APIClient, systems: list[str]
) -> None:
    seed(6)
    second = anon.get("/api/incidents/?page_size=2&cursor=").json()["next"]

    with CaptureQueriesContext(connection) as captured:
        response = anon.get(second)

    assert response.status_code == 200
    statements = [q["sql"].upper() for q in captured.captured_queries]
    assert not any("COUNT(" in sql for sql in statements)
    assert len(statements) == 2  # the page and the systems of its incidents


def test_rows_added_while_paging_do_not_shift_the_pages(
    anon: APIClient, systems: list[str]
) -> None:
    old = seed(6)
    first = anon.get("/api/incidents/?page_size=3&cursor=").json()
    newer = make_incident(title="Newer than every other")  # updated now: before page one

    rest = walk(anon, first["next"])

    seen = [row["id"] for row in first["results"]] + [pk for page in rest for pk in page]
    assert seen == old
    assert newer.pk not in seen


def test_filters_are_kept_in_the_links(anon: APIClient, systems: list[str]) -> None:
    seed(4, status="identified")
    seed(4)

    pages = walk(anon, "/api/incidents/?page_size=3&status=identified&cursor=")

    ids = [pk for page in pages for pk in page]
    assert len(ids) == 4
    assert set(Incident.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        "identified"
    }


def test_the_cursor_keeps_visibility(anon: APIClient, systems: list[str]) -> None:
    public = seed(3)
    seed(3, visibility="internal")

    pages = walk(anon, "/api/incidents/?page_size=2&cursor=")

    assert sorted(pk for page in pages for pk in page) == sorted(public)


def test_an_empty_list_has_no_links(anon: APIClient, db: None) -> None:
    assert anon.get("/api/incidents/?cursor=").json() == {
        "next": None,
        "previous": None,
        "results": [],
    }


def cursor_of(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "value",
    [
        "not-a-cursor",
        "%%%",
        cursor_of([1, 2]),
        cursor_of({"o": ["-updated_at", "id"], "k": [["dt", "yesterday"], ["str", "x"]], "b": 0}),
        cursor_of(
            {
                "o": ["-updated_at", "id"],
                "k": [["dt", "2026-01-01T00:00:00"], ["str", "x"]],
                "b": False,
            }
        ),
        cursor_of({"o": ["-updated_at", "id"], "k": [["str", "x"]], "b": False}),
        cursor_of({"o": ["-updated_at", "id"], "k": [["int", True], ["str", "x"]], "b": False}),
        "A" * 5000,
    ],
)
def test_a_bad_cursor_is_a_400_naming_it(anon: APIClient, db: None, value: str) -> None:
    response = anon.get("/api/incidents/", {"cursor": value})

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


def test_a_cursor_of_another_ordering_is_a_400(anon: APIClient, systems: list[str]) -> None:
    seed(3)
    next_link = anon.get("/api/incidents/?page_size=1&cursor=").json()["next"]

    response = anon.get(next_link + "&ordering=created_at")

    assert response.status_code == 400
    assert "another ordering" in response.json()["cursor"][0]


def test_page_and_cursor_together_is_a_400(anon: APIClient, db: None) -> None:
    response = anon.get("/api/incidents/?page=1&cursor=")

    assert response.status_code == 400
    assert "page" in response.json()


def test_random_cursors_never_fail_with_a_500(anon: APIClient, db: None) -> None:
    rng = random.Random(11)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ %"
    for _ in range(200):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        assert anon.get("/api/incidents/", {"cursor": value}).status_code in (200, 400)


def test_other_lists_page_by_cursor_too(anon: APIClient, systems: list[str]) -> None:
    by_numbers = [
        row["id"] for row in anon.get("/api/catalog/systems/?page_size=200").json()["results"]
    ]

    pages = walk(anon, "/api/catalog/systems/?page_size=1&cursor=")

    assert [pk for page in pages for pk in page] == by_numbers
    assert len(by_numbers) >= 2


def test_the_schema_offers_the_cursor_and_makes_count_optional(anon: APIClient, db: None) -> None:
    schema = anon.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/incidents/"]["get"]
    assert "cursor" in {p["name"] for p in operation["parameters"]}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    assert page["required"] == ["results"]


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("", [["int", 5], ["str", "x"]]),  # a number for a time
        ("", [["dt", "2026-01-01T00:00:00+00:00"], ["int", 3]]),  # a number for the id
        ("&ordering=-severity", [["str", "abc"], ["str", "x"]]),  # text for the rank
        ("&system=db", [["str", "zz"], ["str", "x"]]),  # text for the link row's time
    ],
)
def test_a_cursor_whose_values_do_not_fit_the_sort_columns_is_a_400(
    anon: APIClient, systems: list[str], query: str, key: list[list[Any]]
) -> None:
    """A decodable cursor of the right ordering with values of the wrong type (a 500 before)."""
    make_incident(("db",))
    terms = {
        "": ["-updated_at", "id"],
        "&ordering=-severity": ["-severity_rank", "id"],
        "&system=db": ["-system_updated_at", "id"],
    }[query]

    response = anon.get(
        f"/api/incidents/?cursor={cursor_of({'o': terms, 'k': key, 'b': False})}{query}"
    )

    assert response.status_code == 400
    assert list(response.json()) == ["cursor"]


# -- a search page: its keys first --------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "search=svc-4",
        "search=SVC-4&ordering=-severity",
        "search=svc-4&ordering=created_at",
        "search=svc-4&include_resolved=1",
        "search=svc-4&system=api",
        "search=svc-4&severity=critical",
    ],
)
def test_search_pages_walk_every_match_once_in_order_both_ways(
    anon: APIClient, systems: list[str], query: str
) -> None:
    rng = random.Random(11)
    for n in range(24):
        incident = make_incident(
            ("api",) if n % 3 else ("db",),
            title=f"Incident {n:02d} on svc-{rng.choice([4, 4, 5])}",
            severity=rng.choice(["minor", "major", "critical"]),
        )
        moment = BASE - dt.timedelta(minutes=n // 2)  # ties on updated_at
        status = "resolved" if n % 5 == 0 else incident.status
        Incident.objects.filter(pk=incident.pk).update(
            updated_at=moment, created_at=moment, status=status
        )
    expected = all_by_page_numbers(anon, query)
    assert 3 < len(expected) < 24

    forwards = walk(anon, f"/api/incidents/?page_size=3&cursor=&{query}")
    url = anon.get(f"/api/incidents/?page_size=3&cursor=&{query}").json()["next"]
    while (data := anon.get(url).json())["next"]:
        url = data["next"]
    backwards = walk(anon, url, direction="previous")

    assert [pk for page in forwards for pk in page] == expected
    assert backwards == forwards[::-1]


def page_statement(client: APIClient, url: str) -> str:
    """The SQL of the incident page (the statement that selects incident rows) a request read."""
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    [sql] = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].startswith('SELECT "incidents_incident"."id"')
    ]
    return sql


def test_only_a_search_reads_the_pages_keys_first(anon: APIClient, systems: list[str]) -> None:
    seed(4)

    searched = page_statement(anon, "/api/incidents/?cursor=&search=incident")
    listed = page_statement(anon, "/api/incidents/?cursor=")

    assert '"incidents_incident"."id" IN (SELECT' in searched
    assert "IN (SELECT" not in listed


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_search_page_is_found_by_an_index_only_walk_of_the_active_incidents(
    anon: APIClient, systems: list[str]
) -> None:
    seed(12)
    sql = page_statement(anon, "/api/incidents/?cursor=&search=incident%2005")
    fresh_tables("incidents_incident")  # its visibility map set: index-only walks pay off

    with transaction.atomic(), connection.cursor() as cursor:
        # As with many matches: a walk in list order, not the trigram index's bitmap.
        for method in ("seqscan", "bitmapscan", "sort"):
            cursor.execute(f"SET LOCAL enable_{method} = off")
        cursor.execute(f"EXPLAIN {sql}")
        explained = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Only Scan using incidents_active_idx" in explained, explained
