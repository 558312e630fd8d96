"""``manage.py entities_sweep``: re-enqueue lost outbox rows once, or process them inline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from checkstack.entities import delivery, operations


class Command(BaseCommand):
    help = (
        "Re-enqueue pending deliveries and trigger events whose enqueue was lost (what the "
        "periodic sweeper does). With --inline, process every due row in this process instead, "
        "in order, until none is left (no worker needed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Process due rows here instead of enqueueing them for the workers.",
        )

    def handle(self, *args: Any, inline: bool = False, **options: Any) -> None:
        if inline:
            delivered, dispatched = delivery.sweep_inline()
            self.stdout.write(
                f"Processed {delivered} deliveries and dispatched {dispatched} trigger events."
            )
        else:
            deliveries, events = delivery.sweep()
            self.stdout.write(f"Enqueued {deliveries} deliveries and {events} trigger events.")
        health = operations.queue_health()
        self.stdout.write(
            f"Pending now: {health['pending']} (oldest {health['oldest_pending_seconds']} s)."
        )
