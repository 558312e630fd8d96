"""Driving the pages with headless Chromium: Debian's ``chromium`` and ``chromium-driver``
through Selenium, for the browser tests and ``manage.py status_screenshots``.

Selenium is a development dependency (``requirements.txt``), not one of the apps': it is
imported only when a browser is started. ``unavailable()`` says why no browser can be started
here (the tests skip with that reason, the command fails with it).
"""

from __future__ import annotations

import base64
import importlib.util
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NOT_INSTALLED = "Chromium not installed: apt install chromium chromium-driver"
NO_SELENIUM = "Selenium not installed: pip install -r requirements.txt"

Scheme = Literal["light", "dark"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class BrowserUnavailable(Exception):
    """No headless Chromium can be started here (the message says what to install)."""


def unavailable() -> str | None:
    """Why no browser can be started here, or None when one can."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        return NOT_INSTALLED
    if importlib.util.find_spec("selenium") is None:
        return NO_SELENIUM
    return None


def start_chromium(width: int = 1280, height: int = 900) -> WebDriver:
    """A headless Chromium of a ``width`` x ``height`` CSS-pixel viewport at one device pixel
    per CSS pixel, in English, with a throwaway profile; quit it when done."""
    reason = unavailable()
    if reason:
        raise BrowserUnavailable(reason)
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",  # containers have a small /dev/shm
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--window-size={width},{height}",
        "--lang=en-US",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(argument)
    # The driver given by path: Selenium Manager is not asked to download one.
    service = Service(executable_path=str(CHROMEDRIVER))
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as exc:
        raise BrowserUnavailable(f"Chromium did not start: {exc.msg or exc}") from exc
    driver.set_page_load_timeout(30)
    set_viewport(driver, width, height)
    return driver


def set_color_scheme(driver: WebDriver, scheme: Scheme) -> None:
    """Make the page see ``prefers-color-scheme: <scheme>`` (for pages loaded from now on and
    the one shown: the media query is re-evaluated at once)."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def set_viewport(driver: WebDriver, width: int, height: int) -> None:
    """A viewport of exactly ``width`` x ``height`` CSS pixels, one device pixel each; below
    600 px wide a phone (the page's ``<meta name=viewport>`` applies, touch layout)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def full_page_png(driver: WebDriver, width: int) -> bytes:
    """A PNG of the whole page shown, ``width`` pixels wide and as tall as its content."""
    set_viewport(driver, width, 900)
    height = int(
        driver.execute_script(
            "return Math.ceil(Math.max(document.documentElement.scrollHeight,"
            " document.body ? document.body.scrollHeight : 0));"
        )
    )
    set_viewport(driver, width, max(height, 1))
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False}
    )
    return base64.b64decode(shot["data"])


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk; ValueError if ``data`` is not a PNG."""
    if data[:8] != PNG_MAGIC or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
