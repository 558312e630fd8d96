from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AutomationConfig(AppConfig):
    name = "checkstack.automation"
    label = "automation"
    verbose_name = "Automation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkstack.entities import registry as entities

        from .actions import register_wait_action
        from .dispatch import dispatch
        from .health import register_health_checks
        from .registry import get_trigger
        from .schedules import on_post_migrate
        from .webhooks import register_webhook_action

        register_wait_action()
        register_webhook_action()
        register_health_checks()
        # The entity layer validates derived trigger payloads and hands stored trigger events
        # to the engine through this port; it never imports automation itself.
        entities.connect_trigger_engine(lookup=get_trigger, dispatch=dispatch)
        post_migrate.connect(on_post_migrate, sender=self)
