from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from checkstack.references import register_reference_checker

        from . import automations, entity

        entity.register()
        automations.register()
        register_reference_checker("system", entity.lock_existing_systems)
