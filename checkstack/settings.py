"""Settings of the runnable default project.

Everything that differs between machines comes from the environment; the defaults are safe for
local development (SQLite under ``var/``, DEBUG on only when asked for).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from checkstack.cacheurl import file_cache, parse_cache_url, redis_cache, redis_url
from checkstack.dburl import parse_database_url, sqlite_database
from checkstack.secret_key import DEV_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CHECKSTACK_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# A development-only key; production sets DJANGO_SECRET_KEY (checkstack.checks warns otherwise,
# and `check --deploy` fails).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS (docs/deployment.md, "HTTPS and check --deploy"): on by default with DEBUG off, each
# overridable from the environment. /healthz stays reachable over plain HTTP for load
# balancers. HSTS is sent on HTTPS responses only; subdomains and preload are opt-in.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "0" if DEBUG else "3600"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# A proxy that terminates TLS and sets X-Forwarded-Proto (and strips it from clients): without
# this the SSL redirect loops, as every request reaches the app over HTTP.
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "checkstack.entities",
    "checkstack.automation",
    "catalog",
    "incidents",
    "statuspage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early: a database outage in a view answers 503 + Retry-After (checkstack/database_outage.py).
    "checkstack.database_outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "checkstack.entities.middleware.RequestIdMiddleware",
    # Last, as django-axes asks: turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out address before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "checkstack.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "checkstack.wsgi.application"
ASGI_APPLICATION = "checkstack.asgi.application"

# Persistent connections: django-q2's ORM broker otherwise closes the caller's connection after
# every enqueue, which made writes 3x slower in the prototype (architecture.md).
CONN_MAX_AGE = int(os.environ.get("DJANGO_CONN_MAX_AGE", "600"))

if os.environ.get("DATABASE_URL"):
    DATABASES = {
        "default": parse_database_url(os.environ["DATABASE_URL"], conn_max_age=CONN_MAX_AGE)
    }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": sqlite_database(VAR_DIR / "checkstack.sqlite3", conn_max_age=CONN_MAX_AGE)
    }

# django-q2's broker on many machines (docs/deployment.md, "The Redis broker"): with
# CHECKSTACK_REDIS_URL (redis://host:6379/0, rediss://...) the task queue is in that Redis instead
# of the database's ORM queue, and it is the shared cache too unless CACHE_URL names another.
CHECKSTACK_REDIS_URL = redis_url(
    os.environ.get("CHECKSTACK_REDIS_URL", ""), setting="CHECKSTACK_REDIS_URL"
)

# One cache shared by every process of the installation (web servers and workers): the status
# page is invalidated by the process that made a change, and throttling counts across
# processes. A file-based cache under var/ on one machine; CACHE_URL (redis://, db://,
# file://, locmem://; see checkstack/cacheurl.py and docs/deployment.md) for anything else.
if os.environ.get("CACHE_URL"):
    CACHES = {"default": parse_cache_url(os.environ["CACHE_URL"])}
elif CHECKSTACK_REDIS_URL:
    CACHES = {"default": redis_cache(CHECKSTACK_REDIS_URL)}
else:
    CACHES = {"default": file_cache(VAR_DIR / "cache")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# django-q2: ORM broker on the default database, or Redis with CHECKSTACK_REDIS_URL (above).
# `timeout` < `retry` so the ORM broker never hands a task to a second worker while the first
# may still run it (Redis does not re-deliver; the sweepers recover its lost tasks); failures
# are retried a bounded number of times and always kept; successes are kept sparingly (the
# result saver is otherwise the bottleneck). The ORM broker's pusher is woken by a PostgreSQL
# NOTIFY sent with every task insert (checkstack.entities.broker); `poll` stays the fallback
# (CHECKSTACK_Q_NOTIFY=0: polling only; on SQLite it is django-q2's ORM broker).
_ORM_BROKER: dict[str, object] = {"orm": "default"}
if env_bool("CHECKSTACK_Q_NOTIFY", True):
    _ORM_BROKER["broker_class"] = "checkstack.entities.broker.NotifyingORM"
Q_CLUSTER = {
    "name": "checkstack",
    **({"redis": CHECKSTACK_REDIS_URL} if CHECKSTACK_REDIS_URL else _ORM_BROKER),
    "workers": int(os.environ.get("CHECKSTACK_Q_WORKERS", "2")),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 5,
    "ack_failures": True,
    "save_limit": 100,
    "poll": float(os.environ.get("CHECKSTACK_Q_POLL", "0.05")),
    "catch_up": False,
    "label": "Task queue",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CHECKSTACK_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-q2 logs every enqueued task at INFO; keep its warnings and errors.
        "django-q": {
            "handlers": ["console"],
            "level": os.environ.get("CHECKSTACK_Q_LOG_LEVEL", "WARNING"),
            "propagate": False,
        },
    },
}

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header makes unauthenticated requests 401, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "checkstack.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "checkstack.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "checkstack.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["checkstack.api.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Rates per anonymous address, session user and API token, counted in the shared cache
    # (checkstack/api/throttles.py; docs/operations.md, "Login protection and rate limits").
    "DEFAULT_THROTTLE_CLASSES": [
        "checkstack.api.throttles.AnonRateThrottle",
        "checkstack.api.throttles.UserRateThrottle",
        "checkstack.api.throttles.TokenRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("CHECKSTACK_THROTTLE_ANON", "120/min") or None,
        "user": os.environ.get("CHECKSTACK_THROTTLE_USER", "600/min") or None,
        "token": os.environ.get("CHECKSTACK_THROTTLE_TOKEN", "1200/min") or None,
    },
    # Proxies in front of the app that append to X-Forwarded-For; 0: the client is REMOTE_ADDR
    # (else any client could pick its own address for the throttles and the login lockout).
    "NUM_PROXIES": int(os.environ.get("CHECKSTACK_NUM_PROXIES", "0")),
}

# django-axes: failed admin logins and API tokens per client address (the throttles' address,
# checkstack.login_protection.client_ip); locked out for the cool-off after the limit.
# `manage.py axes_reset` (or axes_reset_ip ADDRESS) unlocks.
AXES_FAILURE_LIMIT = int(os.environ.get("CHECKSTACK_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(
    minutes=float(os.environ.get("CHECKSTACK_LOGIN_COOLOFF_MINUTES", "15"))
)
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "checkstack.login_protection.client_ip"
AXES_LOCKOUT_CALLABLE = "checkstack.login_protection.lockout_response"

SPECTACULAR_SETTINGS = {
    "TITLE": "Checkstack API",
    "DESCRIPTION": "Incidents, catalog systems and their change history.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "checkstack.api.schema.manager_only_fields_are_optional",
    ],
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.choices.Status",
        "SeverityEnum": "incidents.choices.Severity",
        "HealthOverrideEnum": "incidents.choices.HealthOverride",
        "VisibilityEnum": "incidents.choices.Visibility",
        "MaintenanceStatusEnum": "statuspage.maintenance.choices.MaintenanceStatus",
        "SystemStatusEnum": "checkstack.system_status.SystemStatus",
    },
}

# Checkstack settings (read through each app's conf.py on every access).
CHECKSTACK_PUBLIC_READ = env_bool("CHECKSTACK_PUBLIC_READ", True)
CHECKSTACK_LOCK_TIMEOUT = float(os.environ.get("CHECKSTACK_LOCK_TIMEOUT", "5"))
# SQLite: WAL checkpoints in a background thread of each process, not in the writer's commit.
CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS = env_bool(
    "CHECKSTACK_SQLITE_BACKGROUND_CHECKPOINTS", True
)
# Webhook URLs on loopback/private/link-local/metadata addresses are refused unless this is on
# (the local demo turns it on for its receiver on 127.0.0.1).
CHECKSTACK_WEBHOOK_ALLOW_PRIVATE = env_bool("CHECKSTACK_WEBHOOK_ALLOW_PRIVATE", False)

# Email (status page subscribers). Unconfigured, mail goes to the console backend (printed by
# the process that sends it: what `scripts/run` and development use). Production sets either
# EMAIL_URL (smtp://user:password@host:587?tls=true, smtps://... for implicit TLS, console://)
# or Django's standard EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD,
# EMAIL_USE_TLS, EMAIL_USE_SSL as environment variables.
CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"
SMTP_EMAIL = "django.core.mail.backends.smtp.EmailBackend"


def email_settings(environ: Mapping[str, str]) -> dict[str, object]:
    url = environ.get("EMAIL_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme == "console":
            return {"EMAIL_BACKEND": CONSOLE_EMAIL}
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(
                f"EMAIL_URL: use smtp://, smtps:// or console://, not {parts.scheme}://"
            )
        query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
        ssl = parts.scheme == "smtps" or query.get("ssl") in {"1", "true", "yes", "on"}
        return {
            "EMAIL_BACKEND": SMTP_EMAIL,
            "EMAIL_HOST": parts.hostname or "localhost",
            "EMAIL_PORT": parts.port or (465 if ssl else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_SSL": ssl,
            "EMAIL_USE_TLS": not ssl and query.get("tls") in {"1", "true", "yes", "on"},
        }
    if environ.get("EMAIL_HOST"):
        truthy = {"1", "true", "yes", "on"}
        return {
            "EMAIL_BACKEND": SMTP_EMAIL,
            "EMAIL_HOST": environ["EMAIL_HOST"],
            "EMAIL_PORT": int(environ.get("EMAIL_PORT", "25")),
            "EMAIL_HOST_USER": environ.get("EMAIL_HOST_USER", ""),
            "EMAIL_HOST_PASSWORD": environ.get("EMAIL_HOST_PASSWORD", ""),
            "EMAIL_USE_TLS": environ.get("EMAIL_USE_TLS", "").strip().lower() in truthy,
            "EMAIL_USE_SSL": environ.get("EMAIL_USE_SSL", "").strip().lower() in truthy,
        }
    return {"EMAIL_BACKEND": os.environ.get("EMAIL_BACKEND", CONSOLE_EMAIL)}


globals().update(email_settings(os.environ))
# A hung mail server must not hold a worker longer than this (seconds).
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Checkstack status <status@localhost>")
# Scheme and host of this site, for the links in emails (confirm, manage, unsubscribe, details).
CHECKSTACK_SITE_URL = os.environ.get("CHECKSTACK_SITE_URL", "http://127.0.0.1:8000")
