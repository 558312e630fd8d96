"""Building the mails a subscriber gets: text and HTML from Django templates, the signed links,
and the one-click unsubscribe headers of RFC 8058 on every one of them."""

from __future__ import annotations

from typing import Any

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from statuspage.models import Subscriber

from ..page.conf import page_settings
from .conf import app_settings
from .tokens import Purpose, make_token


def link(subscriber: Subscriber, purpose: Purpose) -> str:
    """The absolute signed link of ``purpose`` for ``subscriber``."""
    path = reverse(f"statuspage:{purpose}", args=[make_token(subscriber, purpose)])
    return app_settings.SITE_URL + path


def site_link(path: str) -> str:
    return app_settings.SITE_URL + path


def build_message(
    subscriber: Subscriber, template: str, subject: str, context: dict[str, Any]
) -> EmailMultiAlternatives:
    """``statuspage/email/<template>.txt`` and ``.html`` for ``subscriber``, with its manage and
    unsubscribe links in the body and the ``List-Unsubscribe`` headers."""
    unsubscribe_url = link(subscriber, Purpose.UNSUBSCRIBE)
    full = {
        **context,
        "subject": subject,
        "page_title": page_settings.TITLE,
        "accent_color": page_settings.ACCENT_COLOR,
        "page_url": site_link(reverse("statuspage:index")),
        "manage_url": link(subscriber, Purpose.MANAGE),
        "unsubscribe_url": unsubscribe_url,
    }
    message = EmailMultiAlternatives(
        subject=f"[{page_settings.TITLE}] {subject}".replace("\n", " ").replace("\r", " "),
        body=render_to_string(f"statuspage/email/{template}.txt", full),
        to=[subscriber.address],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string(f"statuspage/email/{template}.html", full), "text/html"
    )
    return message
