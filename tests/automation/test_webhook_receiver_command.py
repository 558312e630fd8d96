"""``manage.py webhook_receiver`` (the demo receiver): how it judges a request's signature."""

from __future__ import annotations

import pytest

from checkstack.automation import webhooks
from checkstack.automation.management.commands.webhook_receiver import signature_matches
from checkstack.automation.signing import webhook_headers

pytestmark = pytest.mark.django_db


def test_the_demo_receiver_verifies_signatures_with_the_secret_of_its_endpoint() -> None:
    endpoint = webhooks.create_endpoint(url="http://127.0.0.1:8001/events")
    body = b'{"type": "incident.created"}'
    signed = webhook_headers(endpoint.secret, "msg_1", 1_700_000_000, body)

    assert signature_matches(signed, body, 8001) == "verified"
    assert signature_matches(signed, body + b" ", 8001) == "INVALID"
    assert signature_matches({}, body, 8001) == "none (unsigned)"
    assert signature_matches(signed, body, 9999) == "unknown endpoint"
