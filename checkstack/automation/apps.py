from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AutomationConfig(AppConfig):
    name = "checkstack.automation"
    label = "automation"
    verbose_name = "Automation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .actions import register_builtin_actions
        from .schedules import on_post_migrate

        register_builtin_actions()
        post_migrate.connect(on_post_migrate, sender=self)
