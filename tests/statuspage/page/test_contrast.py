"""The page's colours meet WCAG AA in both schemes: text 4.5:1 on the page and on cards, the
words on a state's colour 4.5:1, a state's colour against the page 3:1 (a graphical object)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import statuspage
from statuspage.page.states import LOOKS, relative_luminance

CSS = (Path(statuspage.__file__).parent / "templates/statuspage/page.css").read_text()
STATES = [
    "operational",
    "under-maintenance",
    "degraded-performance",
    "partial-outage",
    "major-outage",
]


def palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})", block))


LIGHT = palette(CSS.split("@media (prefers-color-scheme: dark)")[0])
DARK = {**LIGHT, **palette(CSS.split("@media (prefers-color-scheme: dark)")[1].split("}")[0])}


def contrast(a: str, b: str) -> float:
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", [LIGHT, DARK], ids=["light", "dark"])
def test_text_is_readable_on_the_page_and_on_cards(scheme: dict[str, str]) -> None:
    for text in ("text", "muted", "link"):
        for background in ("bg", "surface"):
            assert contrast(scheme[text], scheme[background]) >= 4.5, (text, background)


@pytest.mark.parametrize("scheme", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize("state", STATES)
def test_state_colours_carry_readable_words_and_stand_out(
    scheme: dict[str, str], state: str
) -> None:
    assert contrast(scheme[state], scheme["on-state"]) >= 4.5
    assert contrast(scheme[state], scheme["bg"]) >= 3
    assert contrast(scheme[state], scheme["surface"]) >= 3


def test_badge_colours_carry_white_words() -> None:
    for look in LOOKS.values():
        assert contrast(look.badge, "#ffffff") >= 4.5, look.status
