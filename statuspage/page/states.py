"""How each system status is shown: its words, its icon, its colours, and what the worst one
means for the whole page (Statuspage's ``status.indicator``)."""

from __future__ import annotations

import dataclasses

from checkstack.system_status import SystemStatus


@dataclasses.dataclass(frozen=True)
class StateLook:
    """``label`` for people, ``icon`` a shape that does not depend on colour, ``badge`` the
    colour of the SVG badge (white text on it meets WCAG AA)."""

    status: SystemStatus
    label: str
    icon: str
    badge: str

    @property
    def css(self) -> str:
        return self.status.value.replace("_", "-")


LOOKS = {
    look.status: look
    for look in (
        StateLook(SystemStatus.OPERATIONAL, "Operational", "✓", "#1a7f37"),
        StateLook(SystemStatus.UNDER_MAINTENANCE, "Under maintenance", "◆", "#0a58ca"),
        StateLook(SystemStatus.DEGRADED_PERFORMANCE, "Degraded performance", "▲", "#8a5a00"),
        StateLook(SystemStatus.PARTIAL_OUTAGE, "Partial outage", "■", "#b54708"),
        StateLook(SystemStatus.MAJOR_OUTAGE, "Major outage", "✕", "#c62828"),
    )
}

# (indicator, banner text) of the page, by its worst system status.
INDICATORS = {
    SystemStatus.OPERATIONAL: ("none", "All systems operational"),
    SystemStatus.UNDER_MAINTENANCE: ("maintenance", "Scheduled maintenance in progress"),
    SystemStatus.DEGRADED_PERFORMANCE: ("minor", "Degraded performance"),
    SystemStatus.PARTIAL_OUTAGE: ("major", "Partial outage"),
    SystemStatus.MAJOR_OUTAGE: ("critical", "Major outage"),
}


def look_of(status: SystemStatus) -> StateLook:
    return LOOKS[status]


def indicator_of(status: SystemStatus) -> tuple[str, str]:
    """``(indicator, description)`` of a page whose worst system status is ``status``."""
    return INDICATORS[status]


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of ``#rgb`` or ``#rrggbb``."""
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def text_color_on(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (at least 4.58:1 for
    any colour, so any accent colour gets readable header text)."""
    luminance = relative_luminance(background)
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"
