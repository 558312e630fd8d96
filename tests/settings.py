"""Test settings: the default project plus a test-only app with entity-backed models.

The database comes from ``DATABASE_URL`` (PostgreSQL) or is SQLite otherwise.
"""

from checkstack.settings import *  # noqa: F403
from checkstack.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.testapp", "bench"]

# One process per test run: per-process memory, emptied with each run (the default project's
# shared file cache under var/ would carry entries from one run into the next).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
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
