from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EntitiesConfig(AppConfig):
    name = "checkstack.entities"
    label = "entities"
    verbose_name = "Entity change log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .schedules import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="checkstack-sweeper")
