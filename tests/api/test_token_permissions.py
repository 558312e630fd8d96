"""Token authentication reads the user's permissions with the token (one query), and gives
exactly what Django's ModelBackend would compute; it steps aside when a backend looks
permissions up its own way."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from checkstack.api.authentication import TokenAuthentication
from tests.api.helpers import make_user


class GroupsElsewhereBackend(ModelBackend):
    """A backend that finds group permissions its own way (here: none)."""

    def _get_group_permissions(self, user_obj: Any) -> Any:
        return Permission.objects.none()


def token_of(user: Any) -> str:
    return Token.objects.create(user=user).key


def authenticated(key: str) -> Any:
    user, _token = TokenAuthentication().authenticate_credentials(key)
    return user


@pytest.fixture
def mixed(managers_group: Any) -> Any:
    """A user with one permission of their own and the managers' through their group."""
    user = make_user("mixed")
    user.user_permissions.add(Permission.objects.get(codename="manage_automation"))
    user.groups.add(managers_group)
    return user


def test_token_user_has_the_permissions_model_backend_computes_in_one_query(mixed: Any) -> None:
    key = token_of(mixed)
    expected = ModelBackend().get_all_permissions(type(mixed).objects.get(pk=mixed.pk))
    assert expected == {
        "automation.manage_automation",
        "catalog.manage_catalog",
        "incidents.manage_incident",
    }

    with CaptureQueriesContext(connection) as captured:
        user = authenticated(key)
        assert user.get_all_permissions() == expected
        assert user.has_perm("incidents.manage_incident")
        assert not user.has_perm("incidents.delete_incident")

    assert len(captured.captured_queries) == 1


def test_token_user_without_permissions_has_none(db: None) -> None:
    user = authenticated(token_of(make_user("nobody")))

    with CaptureQueriesContext(connection) as captured:
        assert user.get_all_permissions() == set()
    assert captured.captured_queries == []


def test_superuser_keeps_every_permission(db: None) -> None:
    user = authenticated(token_of(make_user("root", is_superuser=True)))

    assert user.has_perm("incidents.manage_incident")
    assert user.get_all_permissions() == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }


def test_a_backend_with_its_own_lookups_is_left_to_do_them(mixed: Any, settings: Any) -> None:
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.GroupsElsewhereBackend"]

    user = authenticated(token_of(mixed))

    assert user.get_all_permissions() == {"automation.manage_automation"}
    assert not user.has_perm("incidents.manage_incident")


def test_writes_need_the_permission_through_the_token(
    user: Any, manager_token: str, systems: list[str]
) -> None:
    body = {"title": "Down", "severity": "major", "system_ids": ["db"]}
    reader = APIClient()
    reader.credentials(HTTP_AUTHORIZATION=f"Token {token_of(user)}")
    manager = APIClient()
    manager.credentials(HTTP_AUTHORIZATION=f"Token {manager_token}")

    assert reader.post("/api/incidents/", body, format="json").status_code == 403
    assert manager.post("/api/incidents/", body, format="json").status_code == 201
    assert APIClient().post("/api/incidents/", body, format="json").status_code == 401
