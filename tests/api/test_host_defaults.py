"""The viewsets keep their error mapping and pagination under a host's own DRF defaults."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

HOST_DEFAULTS = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}


@pytest.mark.django_db
def test_domain_errors_and_pagination_do_not_depend_on_the_host_settings(
    manager_client: APIClient, systems: Any
) -> None:
    with override_settings(REST_FRAMEWORK=HOST_DEFAULTS):
        missing = manager_client.post("/api/incidents/nope/resolve/", {}, format="json")
        unknown = manager_client.post(
            "/api/incidents/",
            {"title": "Down", "severity": "major", "system_ids": ["zz"]},
            format="json",
        )
        listing = manager_client.get("/api/catalog/systems/")

    assert missing.status_code == 404
    assert missing.json() == {"detail": "Incident nope not found"}
    assert unknown.status_code == 400
    assert unknown.json() == {"system_ids": ["Unknown system ids: zz."]}
    assert listing.status_code == 200
    assert listing.json()["count"] == len(systems)
