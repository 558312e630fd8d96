from django.apps import AppConfig


class StatusPageConfig(AppConfig):
    name = "statuspage"
    label = "statuspage"
    verbose_name = "Status page"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .maintenance import registration as maintenance
        from .page import registration as page
        from .subscribers import registration as subscribers

        maintenance.register(self)
        page.register(self)
        subscribers.register(self)
