"""Entry point from the entity layer's outbox into the automation engine.

The engine (automations, runs) plugs in here; until an automation matches, handing an event
over means recording it as dispatched, which the caller does in the same transaction.
"""

from __future__ import annotations

import logging

from checkstack.entities.models import TriggerEvent

logger = logging.getLogger("checkstack.automation")


def dispatch(event: TriggerEvent) -> None:
    """Start the runs of every enabled automation that matches ``event`` (none exist yet)."""
    logger.debug("Trigger event %s (%s) dispatched", event.pk, event.event)
