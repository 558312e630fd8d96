"""Admin of automations, runs and webhooks; every write goes through the automation services
(``services``, ``runs``, ``webhooks``); runs and deliveries are read-only logs with actions.

One module per page family: ``automations``, ``runs``, ``webhooks``; ``logs`` holds what the
read-only logs share.
"""

from . import automations, runs, webhooks

__all__ = ["automations", "runs", "webhooks"]
