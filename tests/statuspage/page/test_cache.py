"""The rendered-page cache: a change shows on the next read (entity changes and every incident
write, message-only ones too), each reader gets their own CSRF token, and the cache can be off."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.middleware.csrf import _does_token_match
from django.test import Client
from django.utils import timezone

from catalog import services as catalog
from incidents import services
from statuspage.maintenance import services as maintenance
from statuspage.page import cache, queries
from tests.statuspage.page.helpers import text

Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks: Capture) -> Callable[[], Any]:
    """Writes inside ``with after_commit():`` run their after-commit work (the invalidation)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def warm(systems: list[str], anon: Client) -> str:
    """An incident on ``db``, its page and /status/ read once (so cached)."""
    incident = services.create_incident(title="Database slow", system_ids=["db"])
    text(anon, "/status/")
    text(anon, f"/status/incidents/{incident.pk}/")
    return str(incident.pk)


def test_a_second_read_is_served_from_the_cache(warm: str, anon: Client) -> None:
    services.update_incident(warm, title="Renamed without telling anyone")  # no commit hooks

    assert "Database slow" in text(anon, "/status/")


def test_an_incident_change_shows_on_the_next_read(
    warm: str, anon: Client, after_commit: Callable[[], Any]
) -> None:
    with after_commit():
        services.update_incident(warm, severity="critical")

    assert "Major outage" in text(anon, "/status/")


def test_a_message_only_update_shows_on_the_next_read(
    warm: str, anon: Client, after_commit: Callable[[], Any]
) -> None:
    with after_commit():
        services.add_update(warm, message="Still looking into it")

    assert "Still looking into it" in text(anon, "/status/")
    assert "Still looking into it" in text(anon, f"/status/incidents/{warm}/")


def test_a_title_change_shows_on_the_next_read(
    warm: str, anon: Client, after_commit: Callable[[], Any]
) -> None:
    with after_commit():
        services.update_incident(warm, title="Database slow for some")

    assert "Database slow for some" in text(anon, "/status/")


def test_a_catalog_change_shows_on_the_next_read(
    warm: str, anon: Client, after_commit: Callable[[], Any]
) -> None:
    with after_commit():
        catalog.update_system("web", name="Storefront")
        catalog.create_group(id="edge", name="Edge services", system_ids=["web"])

    body = text(anon, "/status/")

    assert "Storefront" in body
    assert "Edge services" in body


def test_a_maintenance_shows_on_the_next_read(
    warm: str, anon: Client, after_commit: Callable[[], Any]
) -> None:
    now = timezone.now()
    with after_commit():
        maintenance.create_maintenance(
            title="Router swap",
            system_ids=["api"],
            starts_at=now + dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=2),
        )

    assert "Router swap" in text(anon, "/status/")


def test_invalidate_makes_every_cached_page_stale(warm: str, anon: Client) -> None:
    services.update_incident(warm, title="Renamed quietly")

    cache.invalidate()

    assert "Renamed quietly" in text(anon, "/status/")
    assert "Renamed quietly" in text(anon, f"/status/incidents/{warm}/")


def test_the_audiences_have_entries_of_their_own(
    systems: list[str], anon: Client, user_client: Client
) -> None:
    services.create_incident(title="Members only", system_ids=["db"], visibility="logged_in")

    assert "Members only" in text(user_client, "/status/")
    assert "Members only" not in text(anon, "/status/")


def test_a_page_rendered_across_a_change_is_not_kept_as_current(
    warm: str, anon: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version is read before rendering: a change committed meanwhile makes it stale."""
    cache.invalidate()
    real_overview = queries.overview

    def overview_then_change(audience: Any) -> Any:
        page = real_overview(audience)
        services.update_incident(warm, title="Changed during the render")
        cache.invalidate()
        return page

    monkeypatch.setattr(queries, "overview", overview_then_change)
    assert "Changed during the render" not in text(anon, "/status/")
    monkeypatch.undo()

    assert "Changed during the render" in text(anon, "/status/")


def test_each_reader_gets_their_own_csrf_token(systems: list[str]) -> None:
    first, second = Client(), Client()

    one = first.get("/status/")
    two = second.get("/status/")

    assert cache.CSRF_PLACEHOLDER not in one.content.decode()
    cookie_one, cookie_two = one.cookies["csrftoken"].value, two.cookies["csrftoken"].value
    assert cookie_one != cookie_two
    # Each page's form carries a token that matches its own reader's cookie.
    assert _does_token_match(form_token(one), cookie_one)
    assert _does_token_match(form_token(two), cookie_two)
    assert not _does_token_match(form_token(two), cookie_one)


def form_token(response: Any) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def test_caching_can_be_turned_off(warm: str, anon: Client, settings: Any) -> None:
    settings.CHECKSTACK_STATUS_CACHE_SECONDS = 0
    services.update_incident(warm, title="Seen at once")

    assert "Seen at once" in text(anon, "/status/")


def test_an_evicted_version_is_set_again(warm: str, anon: Client) -> None:
    cache.page_cache().delete(cache.VERSION_KEY)
    services.update_incident(warm, title="After eviction")

    assert "After eviction" in text(anon, "/status/")
    assert cache.page_cache().get(cache.VERSION_KEY) is not None
