"""The ``webhook.send`` action: one-off signed POSTs from automation runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks.webhooks import Webhook

from checkstack.automation import get_action
from checkstack.automation.registry import ActionContext, ActionResult
from checkstack.automation.signing import generate_secret
from checkstack.automation.webhooks import WebhookSendConfig
from checkstack.entities.masking import forget_run, secrets_for
from tests.automation.receiver import WebhookReceiver


@pytest.fixture
def run_id() -> Any:
    value = str(uuid.uuid4())
    yield value
    forget_run(value)


def send(run_id: str | None, step_id: str = "page", **config: Any) -> ActionResult:
    action = get_action("webhook.send")
    assert action is not None
    ctx = ActionContext(run_id=run_id, context_key="inc-1", actor={}, step_id=step_id)
    return action.run(ctx, action.config_schema.model_validate(config))


def test_webhook_send_posts_a_signed_message_with_a_webhook_id_stable_per_run_and_step(
    run_id: str,
):
    secret = generate_secret()
    with WebhookReceiver() as receiver:
        result = send(run_id, url=receiver.url, secret=secret)
        again = send(run_id, url=receiver.url, secret=secret)  # the step replayed
        other_step = send(run_id, "other", url=receiver.url, secret=secret)
        first, second, third = receiver.wait_for(3)
    assert result.success and result.artifact is None and result.error is None
    assert result.external_id == first.headers["webhook-id"]
    assert result.external_id.startswith("msg_")
    assert second.headers["webhook-id"] == result.external_id == again.external_id
    assert third.headers["webhook-id"] == other_step.external_id != result.external_id
    body = Webhook(secret).verify(first.body, first.headers)
    assert body["id"] == result.external_id
    assert body["type"] == "automation.webhook"
    assert body["data"] == {"run_id": run_id, "context_key": "inc-1"}


def test_webhook_send_registers_its_secret_for_masking(run_id: str):
    secret = generate_secret()
    send(run_id, url="http://127.0.0.1:9/", secret=secret)
    assert secret in secrets_for(run_id)
    assert secret.removeprefix("whsec_") in secrets_for(run_id)


def test_webhook_send_sends_a_given_body_as_is(run_id: str):
    body = '{"text": "Incident inc-1 is critical",  "n": 1}'
    with WebhookReceiver() as receiver:
        result = send(run_id, url=receiver.url, body=body, event_type="custom.page")
        (request,) = receiver.wait_for(1)
    assert result.success
    assert request.body == body.encode()
    assert "webhook-signature" not in request.headers  # no secret: unsigned
    assert request.headers["webhook-id"] == result.external_id


def test_webhook_send_refuses_a_body_that_is_not_json(run_id: str):
    with WebhookReceiver() as receiver:
        result = send(run_id, url=receiver.url, body="not json {")
    assert not result.success
    assert result.error is not None and result.error.startswith("body is not valid JSON")
    assert receiver.requests == []


def test_webhook_send_reports_the_status_and_a_masked_excerpt_on_failure(run_id: str):
    secret = generate_secret()
    echo = f"rejected {secret}".encode()
    with WebhookReceiver(statuses=[500], body=echo) as receiver:
        result = send(run_id, url=receiver.url, secret=secret)
    assert not result.success
    assert result.error == "HTTP 500: rejected ****"
    assert result.external_id is not None


def test_webhook_send_refuses_internal_addresses_unless_allowed(run_id: str, settings: Any):
    settings.CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = False
    with WebhookReceiver() as receiver:
        result = send(run_id, url=receiver.url)
    assert not result.success
    assert result.error is not None and result.error.startswith("Refused:")
    assert receiver.requests == []


def test_webhook_send_config_needs_an_http_url():
    with pytest.raises(ValidationError):
        WebhookSendConfig.model_validate({"url": "file:///etc/passwd"})
    with pytest.raises(ValidationError):
        WebhookSendConfig.model_validate({"url": "https://x.example", "unknown": 1})
