"""``manage.py seed_demo``: demo systems, a group and incidents in several states, idempotently.

Everything is written through the services with the system actor, so the demo data has a
complete change log and trigger events like any other data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from checkstack.entities import advisory_lock
from checkstack.errors import LockTimeout, NotFound
from incidents import services
from incidents.choices import Severity, Status, Visibility

SYSTEMS = (
    ("api", "API", "The public REST API."),
    ("database", "Database", "The primary PostgreSQL cluster."),
    ("web", "Web app", "The customer-facing web application."),
    ("queue", "Job queue", "Background job workers and their broker."),
    ("auth", "Authentication", "Login, sessions and single sign-on."),
)
LOCK_KEY = "checkstack.seed_demo"
GROUP = ("core-platform", "Core platform", ("api", "auth", "database"))


@dataclass(frozen=True)
class DemoUpdate:
    message: str
    status_change: str | None = None
    visibility: str = Visibility.PUBLIC


@dataclass(frozen=True)
class DemoIncident:
    title: str
    severity: str
    system_ids: tuple[str, ...]
    initial_message: str
    updates: tuple[DemoUpdate, ...] = ()
    links: tuple[tuple[str, str, str], ...] = ()  # (label, url, visibility)
    resolution: str | None = None
    description: str | None = None


INCIDENTS = (
    DemoIncident(
        title="Elevated API error rates",
        severity=Severity.CRITICAL,
        system_ids=("api", "database"),
        initial_message="We are seeing elevated 5xx responses from the API and are investigating.",
    ),
    DemoIncident(
        title="Delayed background jobs",
        severity=Severity.MAJOR,
        system_ids=("queue",),
        description="Jobs such as e-mail delivery and exports run **late**.",
        initial_message="Background jobs are running with a delay of several minutes.",
        updates=(
            DemoUpdate("A stuck consumer blocks one queue partition.", Status.IDENTIFIED),
            DemoUpdate(
                "Restarted consumer group `jobs-2`; broker disk at 91 %.",
                visibility=Visibility.INTERNAL,
            ),
            DemoUpdate(
                "We are rebalancing the partitions; exports may fail meanwhile.",
                Status.FIXING,
                Visibility.LOGGED_IN,
            ),
            DemoUpdate("A fix is deployed; we are watching the backlog drain.", Status.MONITORING),
        ),
        links=(("Queue dashboard", "https://grafana.example.com/d/queue", Visibility.LOGGED_IN),),
    ),
    DemoIncident(
        title="Login failures for SSO users",
        severity=Severity.MINOR,
        system_ids=("auth", "web"),
        initial_message="Some users cannot log in with single sign-on.",
        updates=(DemoUpdate("The identity provider's certificate expired.", Status.IDENTIFIED),),
        resolution="The certificate was renewed; logins work again.",
    ),
)


DEMO_RECEIVER = "http://127.0.0.1:8001"
DEMO_AUTOMATION: dict[str, Any] = {
    "name": "Critical incident → webhook + timeline note",
    "description": "Pages on-call through a webhook and notes it on the incident's timeline.",
    "trigger": {"event": "incident.created", "filter": "trigger.payload.severity == 'critical'"},
    "steps": [
        {
            "id": "page",
            "action": "webhook.send",
            "config": {
                "url": f"{DEMO_RECEIVER}/page",
                "event_type": "demo.page",
                "body": '{"text": {{ ("Critical incident: " ~ trigger.payload.title)|tojson }}, '
                '"incident_id": {{ trigger.payload.incidentId|tojson }}}',
            },
        },
        {
            "id": "note",
            "action": "incident.add_update",
            "config": {
                "message": "On-call paged by automation "
                "(webhook {{ steps.page.result.external_id }}).",
            },
        },
    ],
    "concurrency": {"scope": "context_key", "mode": "single", "max_runs": 1},
}
DEMO_ENDPOINT: dict[str, Any] = {
    "url": f"{DEMO_RECEIVER}/events",
    "events": ["incident.created", "incident.updated", "incident.resolved"],
    "description": "Demo receiver: python manage.py webhook_receiver",
}


class Command(BaseCommand):
    help = (
        "Create demo catalog systems, a group and incidents in several states through the "
        "services. Running it again creates nothing that exists already (systems and the group "
        "by id, incidents by title)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # One transaction under one advisory lock (PostgreSQL): a second run at the same time
        # waits for the first and then finds everything there, instead of racing it into a
        # Conflict; a wait longer than the lock timeout is a clear error.
        try:
            with transaction.atomic():
                advisory_lock(LOCK_KEY)
                created = self.seed_catalog() + self.seed_automation() + self.seed_incidents()
                if not created:
                    self.stdout.write("Demo data already exists; nothing created.")
                else:
                    self.report(created)
                self.seed_status_page()
        except LockTimeout as exc:
            raise CommandError(
                "Another seed_demo is still running; run this one again when it has ended."
            ) from exc

    def report(self, created: list[str]) -> None:
        for line in created:
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS(f"Created {len(created)} demo objects."))

    def seed_status_page(self) -> None:
        # The status page app sits above incidents: its demo data comes through its own command.
        if "seed_status_demo" in get_commands():
            call_command("seed_status_demo", stdout=self.stdout, stderr=self.stderr)

    def seed_catalog(self) -> list[str]:
        if not apps.is_installed("catalog"):
            return []  # incidents keep system ids as opaque strings then
        from catalog import services as catalog

        created: list[str] = []
        for system_id, name, description in SYSTEMS:
            try:
                catalog.get_system(system_id)
            except NotFound:
                catalog.create_system(id=system_id, name=name, description=description)
                created.append(f"Created system {system_id} ({name}).")
        group_id, group_name, members = GROUP
        try:
            catalog.get_group(group_id)
        except NotFound:
            catalog.create_group(id=group_id, name=group_name, system_ids=members)
            created.append(f"Created group {group_id} ({group_name}).")
        return created

    def seed_automation(self) -> list[str]:
        """The automation "critical incident → webhook + timeline note" and a webhook endpoint,
        both pointing at the local receiver (``manage.py webhook_receiver``)."""
        from checkstack.automation import services as automations
        from checkstack.automation import webhooks
        from checkstack.automation.conf import app_settings

        created: list[str] = []
        if not app_settings.WEBHOOK_ALLOW_PRIVATE:
            self.stdout.write(
                "Skipping the demo automation and webhook endpoint: they post to the local "
                "receiver on 127.0.0.1, which needs CHECKSTACK_WEBHOOK_ALLOW_PRIVATE=1."
            )
            return created
        if not automations.list_automations().filter(name=DEMO_AUTOMATION["name"]).exists():
            automations.create_automation(**DEMO_AUTOMATION)
            created.append(f"Created automation {DEMO_AUTOMATION['name']!r}.")
        if not webhooks.list_endpoints().filter(url=DEMO_ENDPOINT["url"]).exists():
            webhooks.create_endpoint(**DEMO_ENDPOINT)
            created.append(f"Created webhook endpoint {DEMO_ENDPOINT['url']}.")
        return created

    def seed_incidents(self) -> list[str]:
        created: list[str] = []
        for demo in INCIDENTS:
            existing = services.list_incidents(include_resolved=True, search=demo.title)
            if any(incident.title == demo.title for incident in existing):
                continue
            incident = services.create_incident(
                title=demo.title,
                severity=demo.severity,
                system_ids=demo.system_ids,
                description=demo.description,
                initial_message=demo.initial_message,
            )
            for update in demo.updates:
                services.add_update(
                    incident.pk,
                    message=update.message,
                    status_change=update.status_change,
                    visibility=update.visibility,
                )
            for label, url, visibility in demo.links:
                services.add_link(incident.pk, url=url, label=label, visibility=visibility)
            if demo.resolution is not None:
                services.resolve_incident(incident.pk, message=demo.resolution)
            status = services.get_incident(incident.pk).status
            created.append(f"Created incident {demo.title!r} ({status}).")
        return created
