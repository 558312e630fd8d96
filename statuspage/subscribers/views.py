"""The public subscription pages: subscribe, confirm, manage preferences, unsubscribe.

Every page is rendered fresh (never cached: each carries its reader's CSRF token or a personal
link) and answers 404 while the status page is turned off. A bad link (forged, damaged,
expired, for another purpose) is a 400 page saying so, a link whose subscriber is gone a 404;
neither changes anything. Unsubscribing is a POST: with a CSRF token from the page, or the
RFC 8058 one-click POST a mail client sends (``List-Unsubscribe=One-Click``), which is the
only request exempt from the CSRF check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from checkstack.errors import NotFound
from statuspage.models import Subscriber

from ..page.conf import page_settings
from ..page.states import text_color_on
from . import services, topics
from .choices import TopicKind
from .services import MailNotSent
from .tokens import BadLink, Purpose, make_token

View = Callable[..., HttpResponse]
ONE_CLICK = "One-Click"


def subscriber_page(view: View) -> View:
    """404 while the status page is off; bad and dead links get their page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not page_settings.PAGE_ENABLED:
            raise Http404("The status page is turned off.")
        try:
            return view(request, *args, **kwargs)
        except BadLink as exc:
            return page(request, "statuspage/subscribe_invalid.html", {"message": exc.message}, 400)
        except NotFound as exc:
            return page(request, "statuspage/subscribe_invalid.html", {"message": str(exc)}, 404)

    return wrapper


def page(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    full = {
        "settings": page_settings,
        "accent_text": text_color_on(page_settings.ACCENT_COLOR),
        **context,
    }
    response = render(request, template, full, status=status)
    response["Cache-Control"] = "no-store"
    # Links carry tokens: never send them to another site. Not "no-referrer": browsers then
    # send "Origin: null" with the page's own forms, which CSRF protection refuses.
    response["Referrer-Policy"] = "same-origin"
    return response


def choices(system_ids: list[str], group_ids: list[str]) -> dict[str, Any]:
    """What the subscribe form offers, and what is ticked."""
    return {
        "systems": topics.system_choices(),
        "groups": topics.group_choices(),
        "system_ids": set(system_ids),
        "group_ids": set(group_ids),
    }


def chosen(subscriber: Subscriber) -> tuple[list[str], list[str]]:
    rows = list(subscriber.topics.all())
    return (
        [t.target_id for t in rows if t.kind == TopicKind.SYSTEM],
        [t.target_id for t in rows if t.kind == TopicKind.GROUP],
    )


def errors_of(exc: ValidationError) -> dict[str, list[str]]:
    return (
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": list(exc.messages)}
    )


@subscriber_page
@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """GET: the form on a page of its own. POST: start the double opt-in."""
    template = "statuspage/subscribe_page.html"
    if request.method != "POST":
        return page(request, template, {"choices": choices([], [])})
    email = request.POST.get("email", "")
    system_ids = request.POST.getlist("system_ids")
    group_ids = request.POST.getlist("group_ids")
    try:
        result = services.subscribe(email, system_ids=system_ids, group_ids=group_ids)
    except ValidationError as exc:
        context: dict[str, Any] = {
            "choices": choices(system_ids, group_ids),
            "email": email,
            "errors": errors_of(exc),
        }
        return page(request, template, context, 400)
    except MailNotSent:
        context = {"choices": choices(system_ids, group_ids), "email": email, "mail_failed": True}
        return page(request, template, context, 503)
    return page(request, "statuspage/subscribe_sent.html", {"email": result.subscriber.email})


@subscriber_page
@require_http_methods(["GET", "HEAD"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = services.confirm(token)
    context = {"subscriber": subscriber, "manage_token": make_token(subscriber, Purpose.MANAGE)}
    return page(request, "statuspage/subscribe_confirmed.html", context)


@subscriber_page
@require_http_methods(["GET", "HEAD", "POST"])
def manage(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = services.subscriber_for_link(token, Purpose.MANAGE)
    context: dict[str, Any] = {
        "subscriber": subscriber,
        "token": token,
        "unsubscribe_token": make_token(subscriber, Purpose.UNSUBSCRIBE),
    }
    if request.method != "POST":
        return page(
            request,
            "statuspage/subscribe_manage.html",
            {**context, "choices": choices(*chosen(subscriber))},
        )
    system_ids = request.POST.getlist("system_ids")
    group_ids = request.POST.getlist("group_ids")
    context["choices"] = choices(system_ids, group_ids)
    try:
        services.update_preferences(subscriber.pk, system_ids=system_ids, group_ids=group_ids)
    except ValidationError as exc:
        return page(
            request, "statuspage/subscribe_manage.html", {**context, "errors": errors_of(exc)}, 400
        )
    return page(request, "statuspage/subscribe_manage.html", {**context, "saved": True})


@csrf_protect
def _unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    subscriber = services.subscriber_for_link(token, Purpose.UNSUBSCRIBE)
    if request.method != "POST":
        return page(
            request,
            "statuspage/subscribe_unsubscribe.html",
            {"subscriber": subscriber, "token": token},
        )
    services.unsubscribe(subscriber.pk)
    return page(request, "statuspage/subscribe_unsubscribed.html", {"email": subscriber.address})


@subscriber_page
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a button. POST: unsubscribe (CSRF checked unless it is the one-click POST)."""
    if request.method == "POST" and request.POST.get("List-Unsubscribe") == ONE_CLICK:
        # RFC 8058: the mail client posts without cookies or a token; the signed link is the proof.
        with contextlib.suppress(NotFound):  # gone already: a retry gets the same answer
            services.unsubscribe(services.subscriber_for_link(token, Purpose.UNSUBSCRIBE).pk)
        return HttpResponse("Unsubscribed.\n", content_type="text/plain; charset=utf-8")
    return _unsubscribe_page(request, token)
