"""Settings of a host project that is not the default project (see docs/install.md).

Written out explicitly (nothing imported from ``checkstack.settings``): only the apps the
Checkstack apps need, no admin, and the API mounted under ``ops/api/`` (``urls.py``).
The database comes from ``DATABASE_URL`` (PostgreSQL or ``sqlite:///path``).
"""

from __future__ import annotations

import os

from checkstack.dburl import parse_database_url

SECRET_KEY = "host-project-test-key-not-for-production-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost"]

HOST_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
CHECKSTACK_DEPENDENCIES = [
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
]
CHECKSTACK_APPS = [
    "checkstack.entities",
    "checkstack.automation",
    "catalog",
    "incidents",
]
INSTALLED_APPS = HOST_APPS + CHECKSTACK_DEPENDENCIES + CHECKSTACK_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "checkstack.entities.middleware.RequestIdMiddleware",
]

ROOT_URLCONF = "tests.host_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

CONN_MAX_AGE = 600
DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL", "sqlite:///host_project.sqlite3"),
        conn_max_age=CONN_MAX_AGE,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"

Q_CLUSTER = {
    "name": "host-project",
    "orm": "default",
    "workers": 1,
    "timeout": 30,
    "retry": 60,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 50,
    "catch_up": False,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "checkstack.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "checkstack.api.exceptions.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Host project operations API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

CHECKSTACK_PUBLIC_READ = False
CHECKSTACK_LOCK_TIMEOUT = 10

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
