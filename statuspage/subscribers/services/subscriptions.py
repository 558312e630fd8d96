"""The public flows of a subscription: subscribe (double opt-in), confirm, change preferences,
unsubscribe. Links are signed (``tokens``); the views turn a token into a subscriber with
``subscriber_for_link`` and hand the subscriber's id to these services."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import smtplib
import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from checkstack.errors import NotFound
from checkstack.validation import Errors
from statuspage.models import Subscriber, SubscriberTopic

from ..choices import Channel, TopicKind
from ..conf import app_settings
from ..mail import build_message, link
from ..tokens import BadLink, Purpose, read_token
from .fields import check_topics_exist, clean_email, clean_topic_ids

logger = logging.getLogger("statuspage.subscribers")

GONE_MESSAGE = "This link is no longer valid: the subscription was cancelled or removed."


class Subscribed(StrEnum):
    """What ``subscribe`` did (the public page shows the same text for each: whether an address
    is subscribed is told only to that address)."""

    CONFIRMATION_SENT = "confirmation_sent"  # new address
    CONFIRMATION_RESENT = "confirmation_resent"  # known, not confirmed yet
    ALREADY_SUBSCRIBED = "already_subscribed"  # confirmed: nothing changed, the address is told
    NOT_MAILED = "not_mailed"  # mailed moments ago: not again yet


class MailNotSent(Exception):
    """The mail server refused or could not be reached; nothing is lost, try again later."""


@dataclasses.dataclass(frozen=True)
class SubscribeResult:
    subscriber: Subscriber
    outcome: Subscribed


def clean_topics(system_ids: Any, group_ids: Any) -> tuple[list[str], list[str]]:
    errors = Errors()
    systems = clean_topic_ids(errors, "system_ids", system_ids)
    groups = clean_topic_ids(errors, "group_ids", group_ids)
    errors.raise_if_any()
    return systems, groups


def set_topics(subscriber: Subscriber, system_ids: list[str], group_ids: list[str]) -> None:
    """Replace the subscriber's topics; none at all means everything."""
    subscriber.everything = not system_ids and not group_ids
    SubscriberTopic.objects.filter(subscriber=subscriber).delete()
    SubscriberTopic.objects.bulk_create(
        [
            SubscriberTopic(subscriber=subscriber, kind=TopicKind.SYSTEM, target_id=s)
            for s in system_ids
        ]
        + [
            SubscriberTopic(subscriber=subscriber, kind=TopicKind.GROUP, target_id=g)
            for g in group_ids
        ]
    )


def subscribe(
    email: Any, *, system_ids: Iterable[str] | None = None, group_ids: Iterable[str] | None = None
) -> SubscribeResult:
    """Start a double opt-in: a new or unconfirmed address gets a confirmation link (and the
    topics asked for now); a confirmed one changes nothing and gets a mail saying so, with its
    manage link. Mails to one address are at least ``RESEND_INTERVAL`` apart."""
    errors = Errors()
    email = clean_email(errors, "email", email)
    errors.raise_if_any()
    systems, groups = clean_topics(
        list(system_ids) if system_ids is not None else None,
        list(group_ids) if group_ids is not None else None,
    )
    with transaction.atomic():
        check_topics_exist(systems, groups)
        subscriber, created = _lock_or_create(email)
        if subscriber.confirmed_at is not None:
            outcome = Subscribed.ALREADY_SUBSCRIBED
        else:
            outcome = Subscribed.CONFIRMATION_SENT if created else Subscribed.CONFIRMATION_RESENT
            set_topics(subscriber, systems, groups)
            subscriber.updated_at = timezone.now()
            subscriber.save(update_fields=["everything", "updated_at"])
        if not created and not _may_mail(subscriber):
            return SubscribeResult(subscriber, Subscribed.NOT_MAILED)
    if outcome is Subscribed.ALREADY_SUBSCRIBED:
        send_mail(subscriber, "already_subscribed", "You are already subscribed")
    else:
        send_mail(subscriber, "confirm", "Confirm your subscription")
    return SubscribeResult(subscriber, outcome)


def _lock_or_create(email: str) -> tuple[Subscriber, bool]:
    existing = Subscriber.objects.select_for_update().filter(email=email).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a concurrent subscribe of the same address may win
            return Subscriber.objects.create(channel=Channel.EMAIL, email=email), True
    except IntegrityError:
        return Subscriber.objects.select_for_update().get(email=email), False


def _may_mail(subscriber: Subscriber) -> bool:
    if subscriber.mailed_at is None:
        return True
    return timezone.now() - subscriber.mailed_at >= dt.timedelta(
        seconds=app_settings.RESEND_INTERVAL
    )


def send_mail(subscriber: Subscriber, template: str, subject: str) -> None:
    """Send one of the subscription mails now (outside any transaction); ``MailNotSent``."""
    context = {
        "confirm_url": link(subscriber, Purpose.CONFIRM),
        "confirm_days": max(1, app_settings.CONFIRM_MAX_AGE // 86400),
    }
    message = build_message(subscriber, template, subject, context)
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning(
            "Could not send the %s mail to subscriber %s: %s", template, subscriber.pk, exc
        )
        raise MailNotSent(str(exc)) from exc
    Subscriber.objects.filter(pk=subscriber.pk).update(mailed_at=timezone.now())


def subscriber_for_link(token: str, purpose: Purpose) -> Subscriber:
    """The subscriber a signed link is for: ``BadLink`` (forged, expired, other purpose) or
    ``NotFound`` (unsubscribed, removed, or its links were revoked)."""
    subscriber_id, nonce = read_token(token, purpose)
    try:
        uuid.UUID(subscriber_id)
    except ValueError:
        raise BadLink("This link is not valid. Check that it was copied completely.") from None
    subscriber = (
        Subscriber.objects.prefetch_related("topics").filter(pk=subscriber_id, nonce=nonce).first()
    )
    if subscriber is None:
        raise NotFound(GONE_MESSAGE)
    return subscriber


def confirm(token: str) -> Subscriber:
    """Confirm the subscription of a confirmation link (again: nothing changes)."""
    subscriber = subscriber_for_link(token, Purpose.CONFIRM)
    if subscriber.confirmed_at is None:
        now = timezone.now()
        Subscriber.objects.filter(pk=subscriber.pk, confirmed_at__isnull=True).update(
            confirmed_at=now, updated_at=now
        )
        subscriber.confirmed_at = now
    return subscriber


def update_preferences(
    subscriber_id: Any, *, system_ids: Iterable[str] | None, group_ids: Iterable[str] | None
) -> Subscriber:
    """Everything (no ids) or the given systems and groups."""
    systems, groups = clean_topics(
        list(system_ids) if system_ids is not None else None,
        list(group_ids) if group_ids is not None else None,
    )
    with transaction.atomic():
        check_topics_exist(systems, groups)
        subscriber = Subscriber.objects.select_for_update().filter(pk=subscriber_id).first()
        if subscriber is None:
            raise NotFound(GONE_MESSAGE)
        set_topics(subscriber, systems, groups)
        subscriber.updated_at = timezone.now()
        subscriber.save(update_fields=["everything", "updated_at"])
    return subscriber


def unsubscribe(subscriber_id: Any) -> bool:
    """Delete the subscriber, its topics and its unsent notifications; False if already gone."""
    deleted, _ = Subscriber.objects.filter(pk=subscriber_id).delete()
    return deleted > 0
