"""Test settings: the default project plus a test-only app with entity-backed models.

The database comes from ``DATABASE_URL`` (PostgreSQL) or is SQLite otherwise.
"""

from checkstack.settings import *  # noqa: F403
from checkstack.settings import INSTALLED_APPS, REST_FRAMEWORK

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
# The test client and the test servers speak plain HTTP (DEBUG is off, so the defaults are on).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# Login lockout and API rates are off for the suite (every client is 127.0.0.1 and many tests
# log in or send bad tokens); tests/api/test_throttling.py and tests/admin/test_login_lockout.py
# turn them on with the ``settings`` fixture.
AXES_ENABLED = False
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "token": None},
}
