"""``manage.py maintenance_advance``: start and complete due maintenances now (what the
schedule does every ~30 s), e.g. after the task queue was down."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from statuspage.maintenance import services


class Command(BaseCommand):
    help = "Start scheduled maintenances whose start passed and complete those whose end passed."

    def handle(self, *args: Any, **options: Any) -> None:
        advanced = services.advance_due()
        self.stdout.write(
            f"Started {len(advanced.started)}, completed {len(advanced.completed)} maintenance(s)."
        )
        for label, ids in (("started", advanced.started), ("completed", advanced.completed)):
            for maintenance_id in ids:
                self.stdout.write(f"  {label} {maintenance_id}")
