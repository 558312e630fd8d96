"""What the subscribers concern registers in ``AppConfig.ready()`` (no database access): the
work-queue handlers that turn incident, timeline-update and maintenance changes into
notifications, and the sweeper's schedules after ``migrate``."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from checkstack.entities import WorkQueue, on_entity_changed
from incidents.entity import KIND as INCIDENT_KIND
from incidents.entity import UPDATE_KIND
from statuspage.maintenance.entity import KIND as MAINTENANCE_KIND

from . import fanout, schedules


def register(app: AppConfig) -> None:
    on_entity_changed(INCIDENT_KIND, fanout.on_incident_changed, WorkQueue(fanout.GROUP))
    on_entity_changed(UPDATE_KIND, fanout.on_incident_update_changed, WorkQueue(fanout.GROUP))
    on_entity_changed(MAINTENANCE_KIND, fanout.on_maintenance_changed, WorkQueue(fanout.GROUP))
    post_migrate.connect(
        schedules.on_post_migrate, sender=app, dispatch_uid="statuspage-subscribers-schedules"
    )
