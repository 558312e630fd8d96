"""Sending public Django signals after COMMIT, without letting receivers break the caller."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("checkstack.signals")


def send_after_commit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` once the outermost transaction commits; receiver errors are logged."""

    def send() -> None:
        for receiver, result in signal.send_robust(sender=sender, **kwargs):
            if isinstance(result, Exception):
                logger.error("Signal receiver %r failed", receiver, exc_info=result)

    transaction.on_commit(send, robust=True)
