"""Subscriber services: every write and query of subscribers and their topics.

- ``fields``: validation of an address and of topics;
- ``subscriptions``: the public flows (subscribe with double opt-in, confirm, preferences,
  unsubscribe) and the subscription mails;
- ``management``: what managers do (list, add, remove).

Notifications are written by the workers (``statuspage.subscribers.fanout`` and ``sending``).
"""

from .fields import MAX_EMAIL, MAX_TOPICS
from .management import create_subscriber, get_subscriber, list_subscribers, remove_subscriber
from .subscriptions import (
    GONE_MESSAGE,
    MailNotSent,
    Subscribed,
    SubscribeResult,
    confirm,
    subscribe,
    subscriber_for_link,
    unsubscribe,
    update_preferences,
)

__all__ = [
    "GONE_MESSAGE",
    "MAX_EMAIL",
    "MAX_TOPICS",
    "MailNotSent",
    "SubscribeResult",
    "Subscribed",
    "confirm",
    "create_subscriber",
    "get_subscriber",
    "list_subscribers",
    "remove_subscriber",
    "subscribe",
    "subscriber_for_link",
    "unsubscribe",
    "update_preferences",
]
