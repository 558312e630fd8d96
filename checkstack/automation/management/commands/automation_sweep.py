"""``manage.py automation_sweep``: what the automation sweeper does, once; or all work inline."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from checkstack.automation import runs, webhooks


class Command(BaseCommand):
    help = (
        "Time out waiting runs, wake runs whose awaited event slipped past them, and re-enqueue "
        "stalled runs and due webhook deliveries (what the periodic sweeper does). With "
        "--inline, also execute every runnable run and send every due webhook delivery in this "
        "process (no worker needed; run `entities_sweep --inline` first to dispatch events)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Execute runs and send webhooks here instead of enqueueing them.",
        )

    def handle(self, *args: Any, inline: bool = False, **options: Any) -> None:
        counts = runs.sweep()
        if inline:
            executed = runs.execute_due_inline()
            attempts = webhooks.deliver_due_inline()
            self.stdout.write(f"Executed {executed} run(s); made {attempts} webhook attempt(s).")
        else:
            counts.update(webhooks.sweep())
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in sorted(counts.items())))
