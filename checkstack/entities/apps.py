from django.apps import AppConfig


class EntitiesConfig(AppConfig):
    name = "checkstack.entities"
    label = "entities"
    verbose_name = "Entity change log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
