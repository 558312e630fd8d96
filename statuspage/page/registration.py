"""What the page concern registers in ``AppConfig.ready()`` (no database access): the cache
invalidation on every change the page shows, and the system check of its settings."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from checkstack.entities import Broadcast, on_entity_changed
from incidents.signals import incident_changed

from . import cache
from .checks import check_page_settings

# Kinds whose changes the page shows. Message-only incident writes make no change of these
# kinds, but every incident write sends ``incident_changed``.
SHOWN_KINDS = ("incident", "maintenance", "catalog-system", "catalog-group")


def register(app: AppConfig) -> None:
    for kind in SHOWN_KINDS:
        on_entity_changed(kind, cache.invalidate, Broadcast())
    incident_changed.connect(cache.invalidate, dispatch_uid="statuspage.page.invalidate")
    checks.register(check_page_settings)
