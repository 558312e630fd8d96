"""The Atom and RSS feeds of incidents (django.contrib.syndication): the most recently updated
incidents the reader may see, resolved ones too, each with its visible updates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed

from incidents.models import Incident
from incidents.services import Audience

from . import queries
from .conf import page_settings


class IncidentFeed(Feed):
    feed_type: type[SyndicationFeed] = Rss201rev2Feed
    description_template = "statuspage/feed_item.html"

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Audience:
        return queries.page_audience(request.user)

    def title(self) -> str:
        return f"{page_settings.TITLE}: incidents"

    def link(self) -> str:
        return reverse("statuspage:index")

    def description(self) -> str:
        return f"Incidents and their updates, from {page_settings.TITLE}."

    def items(self, audience: Audience) -> list[Incident]:
        return queries.recent_incidents(audience, page_settings.FEED_ITEMS)

    def item_title(self, item: Incident) -> str:
        return f"{item.title} ({item.get_status_display()})"

    def item_link(self, item: Incident) -> str:
        return reverse("statuspage:incident", args=[item.pk])

    def item_guid(self, item: Incident) -> str:
        return f"incident:{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Incident) -> dt.datetime:
        return item.created_at

    def item_updateddate(self, item: Incident) -> dt.datetime:
        return item.updated_at


class AtomIncidentFeed(IncidentFeed):
    feed_type = Atom1Feed
    subtitle = IncidentFeed.description
