"""``create_operator``: a staff user in "Incident managers" whose token can write incidents."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
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
