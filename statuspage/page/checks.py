"""System checks of the page's settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from .conf import DEFAULT_ACCENT, HEX_COLOR


def check_page_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    accent = getattr(settings, "CHECKSTACK_STATUS_ACCENT_COLOR", DEFAULT_ACCENT)
    if HEX_COLOR.fullmatch(str(accent)):
        return []
    return [
        checks.Warning(
            f"CHECKSTACK_STATUS_ACCENT_COLOR {accent!r} is not #rgb or #rrggbb.",
            hint=f"The status page uses {DEFAULT_ACCENT} instead.",
            id="statuspage.W001",
        )
    ]
