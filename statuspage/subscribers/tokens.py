"""Signed links: confirm a subscription, manage it, unsubscribe.

A token is ``django.core.signing.dumps`` of ``{"s": subscriber id, "n": nonce}`` with a salt per
purpose, so a manage link cannot confirm and a confirmation link cannot unsubscribe. Only the
confirmation expires (``CONFIRM_MAX_AGE``); every link stops working once the subscriber is
gone (unsubscribed or removed) or its nonce changed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.core import signing

from .conf import app_settings


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


class BadLink(Exception):
    """A forged, damaged, expired or wrong-purpose link (400); ``message`` says which."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


def _salt(purpose: Purpose) -> str:
    return f"statuspage.subscribers.{purpose}"


def make_token(subscriber: Any, purpose: Purpose) -> str:
    return signing.dumps({"s": str(subscriber.pk), "n": subscriber.nonce}, salt=_salt(purpose))


def read_token(token: str, purpose: Purpose) -> tuple[str, str]:
    """``(subscriber id, nonce)`` of a valid token; ``BadLink`` otherwise."""
    max_age = app_settings.CONFIRM_MAX_AGE if purpose is Purpose.CONFIRM else None
    try:
        data = signing.loads(token, salt=_salt(purpose), max_age=max_age)
    except signing.SignatureExpired:
        raise BadLink(
            "This confirmation link has expired. Subscribe again to get a new one.", expired=True
        ) from None
    except signing.BadSignature:
        raise BadLink("This link is not valid. Check that it was copied completely.") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str):
        raise BadLink("This link is not valid. Check that it was copied completely.")
    return data["s"], str(data.get("n", ""))
