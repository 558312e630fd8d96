"""``manage.py seed_status_demo``: demo maintenance windows and subscribers for the status page,
idempotently.

Run by ``seed_demo`` when this app is installed (incidents, below this app, cannot import it).
Written through the maintenance services, so the windows have a change log and triggers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from incidents.services import Audience
from statuspage.maintenance import services
from statuspage.subscribers import services as subscribers

# (title, system ids, hours from now to the start, duration in hours, description)
MAINTENANCES = (
    (
        "Web app deployment window",
        ("web",),
        -0.5,
        2,
        "We are rolling out a new release of the web app; brief reloads are possible.",
    ),
    (
        "Database upgrade",
        ("database",),
        26,
        2,
        "The primary database moves to a new minor version. The API may answer slowly.",
    ),
)

# (email, system ids): confirmed already, so the console backend shows their notifications.
SUBSCRIBERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ops-team@example.com", ()),
    ("web-customers@example.com", ("web", "api")),
)


class Command(BaseCommand):
    help = (
        "Create demo maintenance windows (one in progress, one upcoming) and two confirmed "
        "subscribers through the services. Running it again creates nothing that exists already "
        "(maintenance by title, subscribers by email)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created: list[str] = []
        now = timezone.now()
        with transaction.atomic():
            existing = set(
                services.list_maintenances(visibilities=Audience.MANAGER.visibilities).values_list(
                    "title", flat=True
                )
            )
            for title, system_ids, start_in, hours, description in MAINTENANCES:
                if title in existing:
                    continue
                starts_at = now + dt.timedelta(hours=start_in)
                maintenance = services.create_maintenance(
                    title=title,
                    system_ids=system_ids,
                    starts_at=starts_at,
                    ends_at=starts_at + dt.timedelta(hours=hours),
                    description=description,
                )
                if starts_at <= now:
                    services.start_maintenance(maintenance.pk)
                created.append(f"Created maintenance {title!r}.")
            known = set(subscribers.list_subscribers().values_list("email", flat=True))
            for email, topics in SUBSCRIBERS:
                if email in known:
                    continue
                subscribers.create_subscriber(
                    email=email, system_ids=list(topics) or None, confirmed=True
                )
                created.append(f"Created subscriber {email}.")
        for line in created:
            self.stdout.write(line)
        if not created:
            self.stdout.write("Demo maintenance and subscribers already exist; nothing created.")
