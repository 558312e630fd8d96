from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class EntitiesConfig(AppConfig):
    name = "checkstack.entities"
    label = "entities"
    verbose_name = "Entity change log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkstack import checks as project_checks  # noqa: F401  (SECRET_KEY)

        from . import checks  # noqa: F401  (registers the system checks)
        from .checkpoints import on_connection_created
        from .schedules import on_post_migrate

        post_migrate.connect(on_post_migrate, sender=self, dispatch_uid="checkstack-sweeper")
        connection_created.connect(on_connection_created, dispatch_uid="checkstack-checkpoints")
