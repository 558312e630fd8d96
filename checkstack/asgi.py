"""ASGI entry point of the default project."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "checkstack.settings")

application = get_asgi_application()
