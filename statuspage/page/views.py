"""The public pages: each view names its cache entry (audience and arguments) and how to render
it; ``cache.cached_response`` serves it from the cache when it can."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_safe

from checkstack.errors import NotFound

from . import queries
from .badge import NOT_FOUND_COLOR, render_badge
from .cache import CSRF_PLACEHOLDER, Rendered, cached_response
from .conf import page_settings
from .feeds import AtomIncidentFeed, IncidentFeed
from .states import text_color_on
from .summary import summary as summary_document

View = Callable[..., HttpResponse]
SVG = "image/svg+xml; charset=utf-8"
MAX_BADGE_LABEL = 40


def public_page(view: View) -> View:
    """GET and HEAD only, and 404 while ``CHECKSTACK_STATUS_PAGE_ENABLED`` is off."""

    @require_safe
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not page_settings.PAGE_ENABLED:
            raise Http404("The status page is turned off.")
        return view(request, *args, **kwargs)

    return wrapper


def cache_key(request: HttpRequest, *parts: object) -> str:
    """Audience, host (absolute links differ by host) and the page's own arguments."""
    audience = queries.page_audience(request.user)
    return ":".join(str(part) for part in (audience, request.get_host(), *parts))


def html(request: HttpRequest, template: str, context: dict[str, Any]) -> Rendered:
    context = {
        "settings": page_settings,
        "accent_text": text_color_on(page_settings.ACCENT_COLOR),
        # Replaced by the reader's own token when served (the body is cached for many).
        "csrf_token": CSRF_PLACEHOLDER,
        **context,
    }
    return Rendered(render_to_string(template, context, request=request))


@public_page
def index(request: HttpRequest) -> HttpResponse:
    def render() -> Rendered:
        audience = queries.page_audience(request.user)
        return html(request, "statuspage/index.html", {"page": queries.overview(audience)})

    return cached_response(request, cache_key(request, "index"), render)


@public_page
def incident(request: HttpRequest, incident_id: str) -> HttpResponse:
    def render() -> Rendered:
        audience = queries.page_audience(request.user)
        try:
            card = queries.get_incident(incident_id, audience)
        except NotFound as exc:
            raise Http404(str(exc)) from exc
        return html(request, "statuspage/incident.html", {"card": card})

    return cached_response(request, cache_key(request, "incident", incident_id), render)


@public_page
def history(request: HttpRequest) -> HttpResponse:
    raw = request.GET.get("month")
    try:
        month = queries.Month.parse(raw) if raw is not None else queries.Month.current()
    except ValueError:
        return HttpResponseBadRequest(
            "Give the month as YYYY-MM, for example ?month=2024-05.", content_type="text/plain"
        )

    def render() -> Rendered:
        audience = queries.page_audience(request.user)
        found = queries.month_history(month, audience)
        return html(request, "statuspage/history.html", {"history": found})

    return cached_response(request, cache_key(request, "history", month), render)


def feed_view(feed: IncidentFeed, name: str) -> View:
    @public_page
    def view(request: HttpRequest) -> HttpResponse:
        def render() -> Rendered:
            response = feed(request)
            return Rendered(response.content.decode(), response["Content-Type"])

        return cached_response(request, cache_key(request, name), render)

    return view


feed_atom = feed_view(AtomIncidentFeed(), "feed.atom")
feed_rss = feed_view(IncidentFeed(), "feed.rss")


@public_page
def summary(request: HttpRequest) -> HttpResponse:
    def render() -> Rendered:
        page = queries.overview(queries.page_audience(request.user))

        def link(name: str, args: tuple[str, ...]) -> str:
            return request.build_absolute_uri(reverse(name, args=args))

        document = summary_document(
            page,
            title=page_settings.TITLE,
            url=request.build_absolute_uri(reverse("statuspage:index")),
            link=link,
        )
        body = json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False)
        return Rendered(body, "application/json")

    return cached_response(request, cache_key(request, "summary.json"), render)


@public_page
def badge(request: HttpRequest, system_id: str) -> HttpResponse:
    def render() -> Rendered:
        try:
            found = queries.badge(system_id, queries.page_audience(request.user))
        except NotFound:
            svg = render_badge("system", "not found", NOT_FOUND_COLOR)
            return Rendered(svg, SVG, status=404)
        label = found.name[:MAX_BADGE_LABEL] or system_id
        return Rendered(render_badge(label, found.look.label.lower(), found.look.badge), SVG)

    response = cached_response(request, cache_key(request, "badge", system_id), render)
    # Image proxies (GitHub's camo) keep an image as long as they are allowed to.
    response["Cache-Control"] = "no-cache"
    return response
