"""Webhook and Slack subscribers: the same events through the signed webhook client."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from incidents import services as incidents
from statuspage.models import Notification
from statuspage.subscribers import services
from tests.automation.receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


def test_slack_and_webhook_subscribers_get_the_event(systems, workers):
    with WebhookReceiver() as slack, WebhookReceiver() as hook:
        services.create_subscriber(channel="slack", url=slack.url, system_ids=["db"])
        subscriber = services.create_subscriber(channel="webhook", url=hook.url)
        incidents.create_incident(title="Database down", system_ids=["db"])
        workers()
        (chat,) = slack.wait_for(1)
        (call,) = hook.wait_for(1)
    text = chat.json()["text"]
    assert text.startswith("Incident: Database down")
    assert "http://status.example.com/status/incidents/" in text
    payload = Webhook(subscriber.secret).verify(call.body, call.headers)
    assert payload["type"] == "incident.created"
    assert payload["data"]["title"] == "Database down"
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_refused_webhook_answer_fails_without_retries(systems, workers):
    with WebhookReceiver(default_status=410) as hook:
        services.create_subscriber(channel="webhook", url=hook.url)
        incidents.create_incident(title="Database down", system_ids=["db"])
        workers()
    notification = Notification.objects.get()
    assert notification.status == "failed"
    assert notification.last_error == "HTTP 410"
