"""What managers do with subscribers (admin, REST API): list, look up, add, remove.

A manager adds email subscribers either confirmed (the manager vouches for the address, e.g.
when importing a list) or unconfirmed (they get the confirmation mail, as if they had
subscribed themselves); webhook and Slack subscribers are confirmed when added.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from checkstack.actors import ActorLike, to_actor
from checkstack.automation import http
from checkstack.automation.signing import generate_secret
from checkstack.errors import Conflict, NotFound
from checkstack.validation import Errors, clean_choice
from statuspage.models import Subscriber, SubscriberTopic

from ..choices import Channel, NotificationStatus, TopicKind
from .fields import check_topics_exist, clean_email, subscriber_pk
from .subscriptions import MailNotSent, clean_topics, send_mail, set_topics

logger = logging.getLogger("statuspage.subscribers")


def list_subscribers(
    *,
    channel: str | None = None,
    confirmed: bool | None = None,
    system_id: str | None = None,
    group_id: str | None = None,
    search: str | None = None,
) -> QuerySet[Subscriber]:
    """Subscribers, newest first, with their topics and how many notifications were sent."""
    subscribers = Subscriber.objects.prefetch_related("topics").annotate(
        sent_count=Count("notifications", filter=Q(notifications__status=NotificationStatus.SENT)),
        failed_count=Count(
            "notifications", filter=Q(notifications__status=NotificationStatus.FAILED)
        ),
    )
    if channel:
        subscribers = subscribers.filter(channel=channel)
    if confirmed is not None:
        subscribers = subscribers.filter(confirmed_at__isnull=not confirmed)
    for kind, target in ((TopicKind.SYSTEM, system_id), (TopicKind.GROUP, group_id)):
        if target:
            chose = SubscriberTopic.objects.filter(
                subscriber=OuterRef("pk"), kind=kind, target_id=target
            )
            subscribers = subscribers.filter(Exists(chose))
    if search and search.strip():
        term = search.strip().replace("\x00", "")
        subscribers = subscribers.filter(Q(email__icontains=term) | Q(url__icontains=term))
    return subscribers.order_by("-created_at", "id")


def get_subscriber(subscriber_id: Any) -> Subscriber:
    subscriber = list_subscribers().filter(pk=subscriber_pk(subscriber_id)).first()
    if subscriber is None:
        raise NotFound(f"Subscriber {subscriber_id} not found")
    return subscriber


def create_subscriber(
    *,
    channel: str = Channel.EMAIL,
    email: Any = None,
    url: Any = None,
    system_ids: Iterable[str] | None = None,
    group_ids: Iterable[str] | None = None,
    confirmed: bool = False,
    actor: ActorLike = None,
) -> Subscriber:
    """Add a subscriber; an email one that is not ``confirmed`` gets the confirmation mail."""
    errors = Errors()
    channel = clean_choice(errors, "channel", channel, Channel.values)
    address: dict[str, Any] = {}
    if channel == Channel.EMAIL:
        address["email"] = clean_email(errors, "email", email)
        if url is not None:
            errors.add("url", "Email subscribers have no URL.")
    elif channel:
        problem = http.check_url(url)
        if problem:
            errors.add("url", problem)
        if email is not None:
            errors.add("email", "Webhook and Slack subscribers have no email address.")
        address["url"] = url.strip() if isinstance(url, str) else ""
        if channel == Channel.WEBHOOK:
            address["secret"] = generate_secret()
    if not isinstance(confirmed, bool):
        errors.add("confirmed", "Must be true or false.")
    errors.raise_if_any()
    systems, groups = clean_topics(
        list(system_ids) if system_ids is not None else None,
        list(group_ids) if group_ids is not None else None,
    )
    now = timezone.now()
    confirmed_at = now if confirmed or channel != Channel.EMAIL else None
    with transaction.atomic():
        check_topics_exist(systems, groups)
        try:
            with transaction.atomic():
                subscriber = Subscriber.objects.create(
                    channel=channel, confirmed_at=confirmed_at, **address
                )
        except IntegrityError:
            raise Conflict(f"{address.get('email')} is already a subscriber.") from None
        set_topics(subscriber, systems, groups)
        subscriber.save(update_fields=["everything"])
    logger.info("Subscriber %s added by %s", subscriber.pk, to_actor(actor)["id"])
    if confirmed_at is None:
        # The subscriber stays, unconfirmed: subscribing the address again sends a new link.
        with contextlib.suppress(MailNotSent):
            send_mail(subscriber, "confirm", "Confirm your subscription")
    return get_subscriber(subscriber.pk)


def remove_subscriber(subscriber_id: Any, *, actor: ActorLike = None) -> None:
    """Delete a subscriber with its topics and notifications (``NotFound`` if gone)."""
    deleted, _ = Subscriber.objects.filter(pk=subscriber_pk(subscriber_id)).delete()
    if not deleted:
        raise NotFound(f"Subscriber {subscriber_id} not found")
    logger.info("Subscriber %s removed by %s", subscriber_id, to_actor(actor)["id"])
