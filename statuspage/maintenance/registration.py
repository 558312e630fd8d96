"""What the maintenance concern registers in ``AppConfig.ready()`` (no database access): the
``maintenance`` entity and its triggers, the actions, the status source and the schedule."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate

from checkstack.system_status import register_status_source

from . import automations, entity, services
from .schedules import on_post_migrate


def register(app: AppConfig) -> None:
    entity.register()
    automations.register()
    register_status_source("maintenance", services.systems_under_maintenance)
    post_migrate.connect(on_post_migrate, sender=app, dispatch_uid="statuspage-maintenance-advance")
