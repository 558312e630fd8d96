"""API rates (DRF throttles per anonymous address, session user and token: 429 with
``Retry-After`` and the API's error body) and failed API tokens counted by the login lockout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from incidents.models import Incident
from tests.api.helpers import make_user

PATH = "/api/incidents/"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """The throttles count in the cache: every test starts (and leaves) with no history."""
    cache.clear()
    yield
    cache.clear()


def rates(settings: Any, **scopes: str | None) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "token": None, **scopes},
    }


def token_client(username: str, **extra: Any) -> APIClient:
    token = Token.objects.create(user=make_user(username))
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_throttled(response: Any) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert set(response.json()) == {"detail"}
    assert "throttled" in response.json()["detail"].lower()
    assert 1 <= int(response["Retry-After"]) <= 60


def test_anonymous_clients_get_429_with_retry_after_over_their_rate(
    db: None, settings: Any
) -> None:
    rates(settings, anon="2/min")
    client = APIClient(REMOTE_ADDR="192.0.2.1")

    assert [client.get(PATH).status_code for _ in range(2)] == [200, 200]
    assert_throttled(client.get(PATH))
    # Another address has its own budget.
    assert APIClient(REMOTE_ADDR="192.0.2.2").get(PATH).status_code == 200


def test_the_anonymous_rate_counts_the_connecting_address_not_a_forwarded_for_header(
    db: None, settings: Any
) -> None:
    rates(settings, anon="1/min")
    assert APIClient(REMOTE_ADDR="192.0.2.1").get(PATH).status_code == 200

    spoofing = APIClient(REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert_throttled(spoofing.get(PATH))


def test_behind_one_proxy_the_forwarded_address_is_the_client(db: None, settings: Any) -> None:
    rates(settings, anon="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = "10.0.0.5"

    first = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")
    second = APIClient(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert first.get(PATH).status_code == 200
    assert second.get(PATH).status_code == 200
    assert_throttled(first.get(PATH))


def test_each_token_has_its_own_rate(db: None, settings: Any) -> None:
    rates(settings, token="2/min", anon="100/min")
    alice = token_client("alice", REMOTE_ADDR="192.0.2.1")
    bob = token_client("bob", REMOTE_ADDR="192.0.2.1")

    assert [alice.get(PATH).status_code for _ in range(2)] == [200, 200]
    assert_throttled(alice.get(PATH))
    assert bob.get(PATH).status_code == 200
    # The token's requests are not the address's: an anonymous client there is not throttled.
    assert APIClient(REMOTE_ADDR="192.0.2.1").get(PATH).status_code == 200


def test_token_requests_do_not_use_the_session_users_rate(db: None, settings: Any) -> None:
    rates(settings, user="1/min", token="5/min")
    client = token_client("alice")

    assert [client.get(PATH).status_code for _ in range(3)] == [200, 200, 200]


def test_session_users_are_counted_per_user(db: None, settings: Any) -> None:
    rates(settings, user="2/min")
    carol = APIClient()
    carol.force_login(make_user("carol"))
    dave = APIClient()
    dave.force_login(make_user("dave"))

    assert [carol.get(PATH).status_code for _ in range(2)] == [200, 200]
    assert_throttled(carol.get(PATH))
    assert dave.get(PATH).status_code == 200


def test_a_rate_of_none_turns_the_scope_off(db: None, settings: Any) -> None:
    rates(settings, anon=None)
    client = APIClient()

    assert {client.get(PATH).status_code for _ in range(30)} == {200}


def test_a_throttled_write_changes_nothing(manager: Any, settings: Any) -> None:
    rates(settings, token="1/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=manager).key}")
    assert client.get(PATH).status_code == 200

    response = client.post(PATH, {"title": "x", "system_ids": []}, format="json")

    assert_throttled(response)
    assert not Incident.objects.exists()


@pytest.fixture
def lockout(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=5)


def bad_token(client: APIClient, n: int) -> list[int]:
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    return [client.get(PATH).status_code for _ in range(n)]


def test_wrong_tokens_lock_the_address_out_even_for_a_valid_token(lockout: None, db: None) -> None:
    assert bad_token(APIClient(REMOTE_ADDR="192.0.2.7"), 2) == [401, 401]
    assert bad_token(APIClient(REMOTE_ADDR="192.0.2.7"), 1) == [429]  # the third failure locks

    good = token_client("erin", REMOTE_ADDR="192.0.2.7")
    response = good.get(PATH)

    assert response.status_code == 429
    assert response["Retry-After"] == "300"
    assert response.json()["detail"].startswith("Too many failed login attempts from this address.")
    # Another address is not locked out.
    assert token_client("frank", REMOTE_ADDR="192.0.2.8").get(PATH).status_code == 200


def test_fewer_wrong_tokens_than_the_limit_leave_a_valid_token_working(
    lockout: None, db: None
) -> None:
    assert bad_token(APIClient(REMOTE_ADDR="192.0.2.7"), 2) == [401, 401]

    assert token_client("erin", REMOTE_ADDR="192.0.2.7").get(PATH).status_code == 200


def test_requests_without_credentials_are_not_counted_as_failed_logins(
    lockout: None, db: None
) -> None:
    client = APIClient(REMOTE_ADDR="192.0.2.7")
    assert {client.get(PATH).status_code for _ in range(5)} == {200}

    assert token_client("erin", REMOTE_ADDR="192.0.2.7").get(PATH).status_code == 200


def test_axes_reset_ip_unlocks_an_api_client(lockout: None, db: None) -> None:
    bad_token(APIClient(REMOTE_ADDR="192.0.2.7"), 3)

    call_command("axes_reset_ip", "192.0.2.7", verbosity=0)

    assert token_client("erin", REMOTE_ADDR="192.0.2.7").get(PATH).status_code == 200
