"""What a webhook message is: its exact body, and secrets masked out of what is stored."""

from __future__ import annotations

import datetime as dt
import json

from django.core.serializers.json import DjangoJSONEncoder

from checkstack.entities.masking import mask_value

from ..models import WebhookDelivery
from ..signing import secret_variants

PING_EVENT = "webhook.ping"


def iso_utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The exact bytes sent (and signed): ``{id, type, timestamp, data}``, compact JSON."""
    message = {
        "id": delivery.message_id,
        "type": delivery.event_type,
        "timestamp": iso_utc(delivery.created_at),
        "data": delivery.data,
    }
    return json.dumps(
        message, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    ).encode("utf-8")


def mask_secret(text: str, secret: str) -> str:
    return str(mask_value(text, secret_variants(secret))) if secret else text
