"""Webhooks: endpoints, deliveries of trigger events, the delivery worker and ``webhook.send``.

Every trigger event an enabled endpoint subscribes to becomes one ``WebhookDelivery`` (unique
per endpoint and event), inserted in the dispatching transaction and enqueued after COMMIT;
a worker sends it (``attempt``), retrying with backoff per ``policy``.

Modules, each depending only on the ones before it (and on ``checkstack.automation.http`` for
the SSRF-safe POST and ``signing`` for Standard Webhooks signatures):

- ``endpoints``: what an endpoint accepts; creating, changing, deleting, reading;
- ``message``: the exact body of a delivery; masking secrets out of stored text;
- ``policy``: retry/backoff, claim duration, disabling after consecutive failures;
- ``fanout``: which deliveries a trigger event creates; the test ping;
- ``attempt``: claim → POST → record, in order per endpoint and incident;
- ``redelivery``: an operator's redelivery, the recovery watch's and the sweeper's hand-back of
  lost deliveries, sending due deliveries inline;
- ``action``: the ``webhook.send`` automation action.

Decisions where the spec is silent:
- deliveries already pending when an endpoint is disabled are still sent (disabling stops new
  deliveries only); pings work on disabled endpoints;
- pings have one attempt and do not count towards (or reset) ``consecutive_failures``;
- an endpoint with a ``system_ids`` filter receives only events naming one of those systems
  (``systemIds`` or ``systemId`` in the payload); events without systems are not sent to it;
- an event delivery's ``created_at`` is the event's time (the body's ``timestamp``), so the
  body is the same on every attempt and every redelivery.
"""

from .action import SEND_ACTION, WebhookSendConfig, action_message_id, register_webhook_action
from .attempt import Outcome, send_delivery
from .endpoints import (
    ALL_EVENTS,
    create_endpoint,
    delete_endpoint,
    get_delivery,
    get_endpoint,
    list_deliveries,
    list_endpoints,
    update_endpoint,
)
from .fanout import create_deliveries_for_event, payload_system_ids, ping
from .message import PING_EVENT, delivery_body
from .policy import retry_delay
from .redelivery import deliver_due_inline, recover_lost, redeliver, sweep

__all__ = [
    "ALL_EVENTS",
    "PING_EVENT",
    "SEND_ACTION",
    "Outcome",
    "WebhookSendConfig",
    "action_message_id",
    "create_deliveries_for_event",
    "create_endpoint",
    "delete_endpoint",
    "deliver_due_inline",
    "delivery_body",
    "get_delivery",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "payload_system_ids",
    "ping",
    "recover_lost",
    "redeliver",
    "register_webhook_action",
    "retry_delay",
    "send_delivery",
    "sweep",
    "update_endpoint",
]
