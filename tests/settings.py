"""Test settings: the default project plus a test-only app with entity-backed models.

The database comes from ``DATABASE_URL`` (PostgreSQL) or is SQLite otherwise.
"""

from checkstack.settings import *  # noqa: F403
from checkstack.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp", "bench"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CHECKSTACK_LOCK_TIMEOUT = 10
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
# Webhook tests post to a local receiver; the SSRF tests turn this off again.
CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = True
