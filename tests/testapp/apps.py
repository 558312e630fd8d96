import os

from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .workers import QCLUSTER_SUBSCRIBER_ENV, register_qcluster_subscriber

        # Only the qcluster subprocess started by the delivery tests sets this variable.
        if os.environ.get(QCLUSTER_SUBSCRIBER_ENV):
            register_qcluster_subscriber()
