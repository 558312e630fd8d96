"""The ``webhook.send`` automation action: POST JSON to a URL from a run's step, signed when a
secret is given, with a webhook-id that is stable for the run and step."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, field_validator

from checkstack.entities.masking import register_run_secret

from .. import http
from ..models import new_message_id
from ..registry import ActionContext, ActionResult, register_action
from ..signing import secret_variants, webhook_headers
from .message import iso_utc, mask_secret

SEND_ACTION = "webhook.send"


class WebhookSendConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=http.MAX_URL_LENGTH, description="http(s) URL.")
    secret: str | None = Field(
        default=None,
        description="Standard Webhooks secret (whsec_...); the request is signed when given. "
        "Use {{ secrets.NAME }}.",
    )
    body: str | None = Field(
        default=None,
        description="JSON text sent as is (a template); default {id, type, timestamp, data}.",
    )
    event_type: str = Field(default="automation.webhook", min_length=1, max_length=150)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


def check_send_config(config: Mapping[str, Any]) -> dict[str, str]:
    """The SSRF check of a literal ``url`` at save time, with the endpoints' rules
    (``http.check_url``: resolves the host unless private addresses are allowed). A URL the
    schema refuses already (not http(s), too long) is left to the schema's message."""
    url = config.get("url")
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return {}
    if len(url) > http.MAX_URL_LENGTH:
        return {}
    problem = http.check_url(url)
    return {"url": problem} if problem else {}


def action_message_id(run_id: str | None, step_id: str | None) -> str:
    """Stable per (run, step): a replayed step sends the same ``webhook-id``."""
    if run_id is None:
        return new_message_id()
    digest = hashlib.sha256(f"{run_id}:{step_id or ''}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def run_webhook_send(ctx: ActionContext, config: WebhookSendConfig) -> ActionResult:
    secret = config.secret or None
    if secret and ctx.run_id is not None:
        for variant in secret_variants(secret):
            register_run_secret(ctx.run_id, variant)
    message_id = action_message_id(ctx.run_id, ctx.step_id)
    if config.body is not None:
        try:
            json.loads(config.body)
        except ValueError as exc:
            return ActionResult(success=False, error=f"body is not valid JSON: {exc}")
        body = config.body.encode("utf-8")
    else:
        message = {
            "id": message_id,
            "type": config.event_type,
            "timestamp": iso_utc(timezone.now()),
            "data": {"run_id": ctx.run_id, "context_key": ctx.context_key},
        }
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = webhook_headers(secret, message_id, int(time.time()), body)
    result = http.post(config.url, body, headers)
    masked = secret or ""
    if result.status_code is not None and 200 <= result.status_code < 300:
        ctx.logger.info("webhook.send %s: HTTP %s", message_id, result.status_code)
        return ActionResult(success=True, external_id=message_id)
    if result.status_code is not None:
        excerpt = mask_secret(result.excerpt, masked)[:500]
        error = f"HTTP {result.status_code}: {excerpt}" if excerpt else f"HTTP {result.status_code}"
    else:
        error = mask_secret(result.error, masked)
    ctx.logger.info("webhook.send %s failed: %s", message_id, error)
    return ActionResult(success=False, external_id=message_id, error=error)


def register_webhook_action() -> None:
    register_action(
        SEND_ACTION,
        "Send webhook",
        "POST JSON to a URL, signed per Standard Webhooks when a secret is given; the "
        "webhook-id is stable for the run and step.",
        "Automation",
        WebhookSendConfig,
        run_webhook_send,
        transactional=False,  # an HTTP call: never hold the run's transaction open over it
        check_config=check_send_config,
    )
