"""``create_operator``: a staff user in "Incident managers" whose token can write incidents."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_operator", *args, stdout=out)
    return out.getvalue()


def test_create_operator_makes_a_manager_and_prints_a_working_token(client):
    output = run("alice")

    user = get_user_model().objects.get(username="alice")
    token = Token.objects.get(user=user)
    assert token.key in output
    assert "Password: " in output
    assert user.is_staff
    assert user.groups.filter(name="Incident managers").exists()
    assert user.has_perm("incidents.manage_incident")
    assert user.has_perm("catalog.manage_catalog")
    response = client.post(
        "/api/catalog/systems/",
        {"name": "Database", "id": "db"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 201, response.content


def test_running_it_again_keeps_the_token_and_the_password(client):
    run("alice", "--password", "s3cret-pass-123")
    token = Token.objects.get(user__username="alice").key

    output = run("alice")

    assert Token.objects.get(user__username="alice").key == token
    assert "Password: " not in output
    assert client.login(username="alice", password="s3cret-pass-123")


def test_blank_username_is_refused():
    with pytest.raises(CommandError, match="non-blank username"):
        run("   ")
    assert not get_user_model().objects.exists()


def nothing_was_created() -> bool:
    return (
        not get_user_model().objects.exists()
        and not Token.objects.exists()
        and not Group.objects.filter(name="Incident managers").exists()
    )


def test_an_empty_password_is_refused_and_creates_nothing():
    with pytest.raises(CommandError, match="--password is empty"):
        run("alice", "--password", "")
    assert nothing_was_created()


def test_an_empty_password_leaves_an_existing_operators_password(client):
    run("alice", "--password", "s3cret-pass-123")

    with pytest.raises(CommandError, match="--password is empty"):
        run("alice", "--password", "")

    assert client.login(username="alice", password="s3cret-pass-123")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "too short"),
        ("password123", "too common"),
        ("8461937205", "entirely numeric"),
        ("alice-the-operator", "too similar to the username"),
    ],
)
def test_a_password_the_validators_refuse_creates_nothing(password, message):
    with pytest.raises(CommandError, match=message) as error:
        run("alice-the-operator", "--password", password)

    assert password not in str(error.value)
    assert nothing_was_created()


def test_a_refused_password_leaves_an_existing_operators_password(client):
    run("alice", "--password", "s3cret-pass-123")

    with pytest.raises(CommandError, match="too short"):
        run("alice", "--password", "x1!")

    assert client.login(username="alice", password="s3cret-pass-123")


def test_a_username_of_151_characters_is_a_clear_error():
    with pytest.raises(CommandError, match="at most 150 characters"):
        run("a" * 151)
    assert nothing_was_created()


def test_a_username_of_150_characters_is_accepted():
    run("a" * 150)
    assert get_user_model().objects.filter(username="a" * 150).exists()


@pytest.mark.parametrize("username", ["al ice", "alice/../bob", "alice;drop"])
def test_a_username_the_username_validator_refuses_creates_nothing(username):
    with pytest.raises(CommandError, match="Invalid username: Enter a valid username"):
        run(username)
    assert nothing_was_created()


def test_an_invalid_email_creates_nothing():
    with pytest.raises(CommandError, match="Invalid --email"):
        run("alice", "--email", "not-an-address")
    assert nothing_was_created()
