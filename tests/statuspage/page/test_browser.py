"""The public page in a real browser (headless Chromium through Selenium): what a person sees of
a degraded system and a maintenance, and the whole subscription by email, from the form to the
confirmation link of the mail and the unsubscribe button; and ``manage.py status_screenshots``.

Skipped, with what to install, where Debian's ``chromium`` and ``chromium-driver`` are absent
(``.ci/run`` installs them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.core import mail
from django.core.management import call_command

from statuspage.management.commands.status_screenshots import SHOTS
from statuspage.models import Subscriber
from statuspage.page import browser
from statuspage.page.states import relative_luminance
from tests.api.helpers import make_incident
from tests.statuspage.page.helpers import running_maintenance
from tests.statuspage.subscribers.helpers import links

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

pytestmark = [
    pytest.mark.skipif(browser.unavailable() is not None, reason=browser.unavailable() or ""),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def chromium() -> Iterator[WebDriver]:
    driver = browser.start_chromium()
    try:
        yield driver
    finally:
        driver.quit()


def system_row(driver: WebDriver, name: str) -> str:
    """The text of the row of system ``name`` on the page shown."""
    from selenium.webdriver.common.by import By

    for row in driver.find_elements(By.CSS_SELECTOR, "li.system"):
        if row.find_element(By.CSS_SELECTOR, ".system-name").text == name:
            return str(row.find_element(By.CSS_SELECTOR, ".system-head").text)
    raise AssertionError(f"no system {name!r} on the page")


def submit(driver: WebDriver, selector: str) -> None:
    """Click the submit button at ``selector`` and wait for the page the form leads to."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, selector).click()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(old_page))


def test_the_page_shows_a_degraded_system_and_a_maintenance_and_one_can_subscribe_and_leave(
    chromium: WebDriver, live_server: Any, systems: list[str], settings: Any
) -> None:
    from selenium.webdriver.common.by import By

    settings.CHECKSTACK_SITE_URL = live_server.url
    make_incident(("api",), title="Slow answers", severity="minor", visibility="public")
    running_maintenance("public", system_ids=("db",))

    chromium.get(f"{live_server.url}/status/")
    banner = chromium.find_element(By.CSS_SELECTOR, "section.banner h1").text
    assert "Degraded performance" in banner
    assert "Degraded performance" in system_row(chromium, "API")
    assert "Under maintenance" in system_row(chromium, "DB")
    assert "Operational" in system_row(chromium, "WEB")
    assert (
        "Slow answers"
        in chromium.find_element(By.ID, "active-incidents").find_element(By.XPATH, "..").text
    )
    assert (
        "public-maintenance"
        in chromium.find_element(By.ID, "maintenance").find_element(By.XPATH, "..").text
    )

    # Subscribe to one system: the form at the foot of the page, its choices folded away.
    chromium.find_element(By.ID, "subscribe-email").send_keys("ada@example.com")
    chromium.find_element(By.CSS_SELECTOR, "details.topics summary").click()
    chromium.find_element(By.CSS_SELECTOR, "input[name=system_ids][value=api]").click()
    submit(chromium, ".subscribe-form button[type=submit]")
    assert "Check your inbox" in chromium.find_element(By.TAG_NAME, "main").text
    subscriber = Subscriber.objects.get()
    assert subscriber.confirmed_at is None

    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    chromium.get(live_server.url + links(message)["confirm"])
    assert "You are subscribed" in chromium.find_element(By.TAG_NAME, "main").text
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    assert list(subscriber.topics.values_list("kind", "target_id")) == [("system", "api")]

    # The unsubscribe link of the mail asks once, then the address is gone.
    chromium.get(message.extra_headers["List-Unsubscribe"].strip("<>"))
    submit(chromium, "main form button[type=submit]")
    assert "unsubscribed" in chromium.find_element(By.TAG_NAME, "main").text.lower()
    assert not Subscriber.objects.filter(email="ada@example.com", confirmed_at__isnull=False)


def test_status_screenshots_writes_full_page_pngs_light_dark_and_phone_width(
    tmp_path: Path, systems: list[str]
) -> None:
    make_incident(("api",), title="Slow answers", severity="minor", visibility="public")
    call_command("status_screenshots", output_dir=tmp_path)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == sorted(
        f"{page}-{suffix}.png"
        for page in ("status", "incident")
        for suffix, _width, _scheme in SHOTS
    )
    for suffix, width, _scheme in SHOTS:
        shot_width, shot_height = browser.png_size((tmp_path / f"status-{suffix}.png").read_bytes())
        assert shot_width == width
        assert shot_height > 300
    assert (tmp_path / "status-light.png").read_bytes() != (
        tmp_path / "status-dark.png"
    ).read_bytes()


def luminance_of(css_color: str) -> float:
    """Relative luminance of a computed ``rgb(r, g, b)`` / ``rgba(...)`` colour."""
    channels = css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")
    red, green, blue = (int(float(c)) for c in channels[:3])
    return relative_luminance(f"#{red:02x}{green:02x}{blue:02x}")


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [1280, 375])
def test_the_page_follows_the_colour_scheme_and_fits_a_phone(
    chromium: WebDriver, live_server: Any, systems: list[str], scheme: str, width: int
) -> None:
    make_incident(("api",), title="Slow answers", severity="minor", visibility="public")
    browser.set_color_scheme(chromium, scheme)  # type: ignore[arg-type]
    browser.set_viewport(chromium, width, 900)
    chromium.get(f"{live_server.url}/status/")
    background = chromium.execute_script("return getComputedStyle(document.body).backgroundColor;")
    text = chromium.execute_script("return getComputedStyle(document.body).color;")
    if scheme == "dark":
        assert luminance_of(background) < 0.1 < luminance_of(text)
    else:
        assert luminance_of(background) > 0.5 > luminance_of(text)
    # Nothing is wider than the viewport: no sideways scrolling on a phone.
    assert chromium.execute_script("return document.documentElement.scrollWidth;") <= width
