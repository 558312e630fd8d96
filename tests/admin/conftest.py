"""Fixtures of the admin tests: catalog systems, captured signals, operators with permissions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from incidents.signals import incident_changed
from tests.admin.helpers import make_systems


@pytest.fixture(autouse=True)
def no_enqueue(settings: Any) -> None:
    """After-commit callbacks must not hand outbox rows to django-q2's broker."""
    settings.CHECKSTACK_ENQUEUE = False


@pytest.fixture
def systems(db: None) -> list[str]:
    """Catalog systems ``api``, ``db`` and ``web``."""
    return make_systems("api", "db", "web")


@pytest.fixture
def sent() -> Iterator[list[dict[str, Any]]]:
    """The keyword arguments of every ``incident_changed`` signal sent."""
    received: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal", None)
        received.append(kwargs)

    incident_changed.connect(receiver, weak=False, dispatch_uid="tests-admin-sent")
    try:
        yield received
    finally:
        incident_changed.disconnect(dispatch_uid="tests-admin-sent")


def staff_client(django_user_model: Any, username: str, permissions: list[str]) -> Client:
    """A logged-in staff user holding ``permissions`` ("app_label.codename")."""
    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


INCIDENT_MODEL_PERMISSIONS = [
    f"incidents.{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("incident", "incidentupdate", "incidentlink")
]
CATALOG_MODEL_PERMISSIONS = [
    f"catalog.{action}_{model}"
    for action in ("add", "change", "delete", "view")
    for model in ("system", "group")
]


@pytest.fixture
def clerk_client(db: None, django_user_model: Any) -> Client:
    """Staff with every model permission of incidents and catalog but neither manage one."""
    return staff_client(
        django_user_model, "clerk", INCIDENT_MODEL_PERMISSIONS + CATALOG_MODEL_PERMISSIONS
    )


@pytest.fixture
def manager_client(db: None, django_user_model: Any) -> Client:
    """Staff (not superuser) with the incident model permissions and ``manage_incident``."""
    return staff_client(
        django_user_model, "manager", [*INCIDENT_MODEL_PERMISSIONS, "incidents.manage_incident"]
    )
