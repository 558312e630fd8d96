"""The SVG badge of one system, in the style of shields.io: its name on grey, its state on the
state's colour (white text on both meets WCAG AA), plus a ``<title>`` for screen readers."""

from __future__ import annotations

import dataclasses

from django.template.loader import render_to_string

NARROW = set("fijlrt.,:;'!|() ")
WIDE = set("mwMW@%")
LABEL_COLOR = "#555"
NOT_FOUND_COLOR = "#6e7781"


def text_width(text: str) -> int:
    """Roughly the width of ``text`` in 11 px Verdana (no font metrics on the server)."""
    width = 0.0
    for char in text:
        if char in NARROW:
            width += 3.9
        elif char in WIDE or char.isupper():
            width += 8.6
        else:
            width += 6.9
    return round(width)


@dataclasses.dataclass(frozen=True)
class BadgeImage:
    label: str
    message: str
    color: str

    @property
    def label_width(self) -> int:
        return text_width(self.label) + 12

    @property
    def message_width(self) -> int:
        return text_width(self.message) + 12

    @property
    def width(self) -> int:
        return self.label_width + self.message_width

    @property
    def label_x(self) -> float:
        return self.label_width / 2

    @property
    def message_x(self) -> float:
        return self.label_width + self.message_width / 2


def render_badge(label: str, message: str, color: str) -> str:
    return render_to_string("statuspage/badge.svg", {"badge": BadgeImage(label, message, color)})
