"""Request rates of the API (DRF throttling, counted in the shared cache): anonymous clients
per address, session users per user, API tokens per token. Rates come from
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` (``"anon"``, ``"user"``, ``"token"``), read on
every request; ``None`` turns a scope off. Over the rate: 429 with ``Retry-After``."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework import throttling
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.settings import api_settings


class _RateFromSettings:
    scope: str

    def get_rate(self) -> str | None:
        # DRF copies the rates into the class at import; these follow the settings.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None


class AnonRateThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    """Clients without credentials, per address."""


class UserRateThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Users logged in with a session (the browsable API), per user."""

    scope = "user"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated or isinstance(request.auth, Token):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenRateThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """API tokens, per token (keyed by a digest: the key itself stays out of the cache)."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, Token):
            return None
        digest = hashlib.sha256(request.auth.key.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}
