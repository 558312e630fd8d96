"""``DATABASE_URL`` parsing (``checkstack.dburl``)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from checkstack.dburl import parse_database_url


def test_postgres_url_gives_its_parts_and_prepared_statements_after_five_runs() -> None:
    parsed = parse_database_url("postgres://u:p%40ss@db.example:6432/incidents?sslmode=require")

    assert (parsed["NAME"], parsed["USER"], parsed["PASSWORD"]) == ("incidents", "u", "p@ss")
    assert (parsed["HOST"], parsed["PORT"]) == ("db.example", "6432")
    assert parsed["OPTIONS"] == {"sslmode": "require", "prepare_threshold": 5}


@pytest.mark.parametrize(
    ("given", "expected"), [("none", None), ("off", None), ("0", 0), ("12", 12)]
)
def test_prepare_threshold_can_be_set_or_turned_off_in_the_url(
    given: str, expected: int | None
) -> None:
    parsed = parse_database_url(f"postgres://u@h/db?prepare_threshold={given}")

    assert parsed["OPTIONS"]["prepare_threshold"] == expected


@pytest.mark.parametrize("given", ["often", "-1", "1.5"])
def test_a_bad_prepare_threshold_is_a_clear_configuration_error(given: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="prepare_threshold"):
        parse_database_url(f"postgres://u@h/db?prepare_threshold={given}")


def test_sqlite_urls_get_no_postgres_options() -> None:
    parsed = parse_database_url("sqlite:////tmp/x.sqlite3")

    assert parsed["NAME"] == "/tmp/x.sqlite3"
    assert "prepare_threshold" not in parsed["OPTIONS"]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///var/db.sqlite3", "var/db.sqlite3"),
        ("sqlite://var/db.sqlite3", "var/db.sqlite3"),
        ("SQLITE:////srv/db.sqlite3", "/srv/db.sqlite3"),
        ("sqlite://", ":memory:"),
    ],
)
def test_sqlite_url_paths(url: str, name: str) -> None:
    assert parse_database_url(url)["NAME"] == name
