from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import automations, cleanup, entity, system_status

        entity.register()
        automations.register()
        cleanup.register()
        system_status.register()
