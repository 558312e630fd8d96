"""The public pages, feeds and mails render descriptions and timeline messages as Markdown,
safely."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from incidents import services

MESSAGE = "Jobs run **late**. <script>alert(1)</script>"


@pytest.fixture
def incident(systems: list[str]) -> Any:
    incident = services.create_incident(
        title="Queue slow", system_ids=["db"], severity="major", description=MESSAGE
    )
    services.add_update(incident.pk, message="Fix is *deployed*.", visibility="public")
    return incident


@pytest.mark.parametrize("path", ["/status/", "/status/incidents/{pk}/", "/status/feed.atom"])
def test_pages_and_feeds_render_markdown_and_escape_html(
    client: Client, incident: Any, path: str
) -> None:
    body = client.get(path.format(pk=incident.pk)).content.decode()
    assert "<em>deployed</em>" in body or "&lt;em&gt;deployed&lt;/em&gt;" in body
    assert "*deployed*" not in body
    assert "<script>alert(1)</script>" not in body


def test_the_incident_page_shows_the_description_as_markdown(client: Client, incident: Any) -> None:
    body = client.get(f"/status/incidents/{incident.pk}/").content.decode()
    assert "<strong>late</strong>" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "**late**" not in body
