"""System checks of the default project's settings: the built-in development SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from checkstack.secret_key import DEV_SECRET_KEY

HINT = (
    "Set DJANGO_SECRET_KEY to a long random value, the same on every web and worker machine "
    "(docs/deployment.md); scripts/run keeps one per checkout in var/secret_key."
)


def uses_built_in_key() -> bool:
    return settings.SECRET_KEY == DEV_SECRET_KEY


@register(Tags.security)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not uses_built_in_key():
        return []
    return [
        Warning(
            "SECRET_KEY is the built-in development key, which is public.",
            hint=HINT,
            id="checkstack.W001",
        )
    ]


@register(Tags.security, deploy=True)
def check_secret_key_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not uses_built_in_key():
        return []
    return [
        Error(
            "SECRET_KEY is the built-in development key: anyone can forge sessions, password "
            "reset links and signed values with it.",
            hint=HINT,
            id="checkstack.E001",
        )
    ]
