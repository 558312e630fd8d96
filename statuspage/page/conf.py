"""Settings of the public page, read from ``django.conf.settings`` on every access."""

from __future__ import annotations

import re

from django.conf import settings

# A CSS colour the page can put in a style sheet as it is: #rgb, #rrggbb (no names, no
# expressions, so a setting cannot break out of the declaration).
HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
DEFAULT_ACCENT = "#1f6feb"


class PageSettings:
    prefix = "CHECKSTACK_STATUS_"

    def _setting(self, name: str, default: object) -> object:
        return getattr(settings, self.prefix + name, default)

    @property
    def PAGE_ENABLED(self) -> bool:
        """Serve the public page; off: every path under ``/status/`` answers 404."""
        return bool(self._setting("PAGE_ENABLED", True))

    @property
    def TITLE(self) -> str:
        """The page's name, in its header, the browser title, the feeds and summary.json."""
        return str(self._setting("TITLE", "System status"))

    @property
    def LOGO_URL(self) -> str:
        """URL of a logo shown before the title (none: the title alone)."""
        return str(self._setting("LOGO_URL", "") or "")

    @property
    def ACCENT_COLOR(self) -> str:
        """Colour of the header band and the buttons, as ``#rgb`` or ``#rrggbb``; anything
        else falls back to the default (the ``statuspage.W001`` check says so)."""
        value = str(self._setting("ACCENT_COLOR", DEFAULT_ACCENT))
        return value if HEX_COLOR.fullmatch(value) else DEFAULT_ACCENT

    @property
    def CACHE_ALIAS(self) -> str:
        """The Django cache the rendered pages are kept in; share it between processes (web
        and workers) so that a change made anywhere shows at once."""
        return str(self._setting("CACHE_ALIAS", "default"))

    @property
    def CACHE_SECONDS(self) -> int:
        """Longest a rendered page is served from the cache (0: no caching). Changes
        invalidate it earlier; this bounds what a cache not shared by every process misses."""
        return max(0, int(self._setting("CACHE_SECONDS", 60)))  # type: ignore[call-overload]

    @property
    def FEED_ITEMS(self) -> int:
        """Incidents in the Atom and RSS feeds (the most recently updated)."""
        return max(1, int(self._setting("FEED_ITEMS", 25)))  # type: ignore[call-overload]


page_settings = PageSettings()
