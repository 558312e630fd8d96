"""Settings to run the benchmarks with: the default project plus the ``bench`` app.

``manage.py bench_entities --settings=bench.settings`` (or ``DJANGO_SETTINGS_MODULE``); the
database comes from ``DATABASE_URL`` or ``CHECKSTACK_VAR_DIR`` as for the default project.
"""

from checkstack.settings import *  # noqa: F403
from checkstack.settings import INSTALLED_APPS, REST_FRAMEWORK

INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
# The benchmarks' clients and servers speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The benchmarks send hundreds of requests a second from one address: no API rates.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "token": None},
}
