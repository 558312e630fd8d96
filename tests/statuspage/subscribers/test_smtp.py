"""One notification through a real SMTP server (aiosmtpd, in this process): the message as the
server received it has both parts, the one-click unsubscribe headers and a working link."""

from __future__ import annotations

import email
import socket
import time
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from incidents import services as incidents
from statuspage.models import Subscriber
from tests.statuspage.subscribers.helpers import confirmed

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any):  # type: ignore[no-untyped-def]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "Status <status@example.com>"
    try:
        yield inbox
    finally:
        controller.stop()


def test_a_notification_as_received_by_an_smtp_server(systems, workers, smtp_server):
    confirmed("ada@example.com")
    incidents.create_incident(
        title="Database down", system_ids=["db"], initial_message="We are on it & <b>safe</b>"
    )
    workers()
    deadline = time.monotonic() + 5
    while not smtp_server.envelopes and time.monotonic() < deadline:
        time.sleep(0.05)
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["ada@example.com"]
    message = email.message_from_bytes(envelope.content, policy=default)
    assert message["Subject"] == "[System status] Incident: Database down"
    assert message["From"] == "Status <status@example.com>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe_url.startswith("http://status.example.com/status/subscribe/unsubscribe/")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "We are on it & <b>safe</b>" in text
    assert "We are on it &amp; &lt;b&gt;safe&lt;/b&gt;" in html
    assert unsubscribe_url in text and unsubscribe_url in html
    path = unsubscribe_url.removeprefix("http://status.example.com")
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Subscriber.objects.exists()
