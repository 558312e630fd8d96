"""Admin login lockout (django-axes): failed logins per client address, a 429 page with
``Retry-After`` once locked out, ``manage.py axes_reset`` unlocks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "right-pw-12345"
LIMIT = 3


@pytest.fixture
def lockout(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=10)


@pytest.fixture
def operator(db: None) -> Any:
    return get_user_model().objects.create_user("ops", password=PASSWORD, is_staff=True)


def log_in(client: Client, password: str) -> Any:
    return client.post(LOGIN, {"username": "ops", "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail_until_locked(client: Client) -> Any:
    for _ in range(LIMIT - 1):
        response = log_in(client, "wrong")
        assert response.status_code == 200  # the form again, with its error
    return log_in(client, "wrong")


def test_the_limit_of_wrong_passwords_locks_out_the_next_login_even_with_the_right_one(
    lockout: None, operator: Any
) -> None:
    client = Client()
    last_failure = fail_until_locked(client)
    assert last_failure.status_code == 429

    response = log_in(client, PASSWORD)

    assert response.status_code == 429
    assert not logged_in(client)
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"] == "600"
    body = response.content.decode()
    assert "Too many failed logins" in body and "Too many failed login attempts" in body
    assert PASSWORD not in body


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(
    lockout: None, operator: Any
) -> None:
    client = Client()
    for _ in range(LIMIT - 1):
        log_in(client, "wrong")

    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_axes_reset_unlocks(lockout: None, operator: Any) -> None:
    client = Client()
    fail_until_locked(client)

    call_command("axes_reset", verbosity=0)

    assert log_in(client, PASSWORD).status_code == 302
    assert logged_in(client)


def test_another_address_is_not_locked_out(lockout: None, operator: Any) -> None:
    fail_until_locked(Client(REMOTE_ADDR="192.0.2.10"))

    other = Client(REMOTE_ADDR="192.0.2.20")
    assert log_in(other, PASSWORD).status_code == 302


def test_a_forwarded_for_header_does_not_escape_the_lockout(lockout: None, operator: Any) -> None:
    """Without proxies configured (``NUM_PROXIES`` 0) the address is ``REMOTE_ADDR``."""
    fail_until_locked(Client(REMOTE_ADDR="192.0.2.10"))

    spoofing = Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert log_in(spoofing, PASSWORD).status_code == 429
