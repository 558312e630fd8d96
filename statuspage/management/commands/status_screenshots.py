"""``manage.py status_screenshots``: PNGs of the public status page as headless Chromium shows
it, for a person to look at: 1280 px and 375 px wide, each in the light and the dark scheme,
the whole height of the page.

The page is served from this process on a free port of 127.0.0.1 (Django's threaded
development server, on the current database and settings), so no server needs to run; the
demo data of ``seed_demo`` makes a lively page. When the page lists an active incident, that
incident's page is taken too. Needs Debian's ``chromium`` and ``chromium-driver`` and Selenium
(``requirements.txt``).
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import (
    ThreadedWSGIServer,
    WSGIRequestHandler,
    get_internal_wsgi_application,
)
from django.db import connections
from django.test.utils import override_settings
from django.urls import reverse

from statuspage.page import browser

# (file name suffix, viewport width in CSS pixels, colour scheme)
SHOTS: tuple[tuple[str, int, browser.Scheme], ...] = (
    ("light", 1280, "light"),
    ("dark", 1280, "dark"),
    ("375-light", 375, "light"),
    ("375-dark", 375, "dark"),
)
HOST = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve() -> Iterator[str]:
    """This project on a free port of 127.0.0.1, in threads of this process; its base URL."""
    # An in-memory SQLite database (the tests') exists only on this thread's connection:
    # the server's threads use it too, as Django's LiveServerTestCase does.
    shared = {
        conn.alias: conn
        for conn in connections.all()
        if conn.vendor == "sqlite" and conn.is_in_memory_db()  # type: ignore[attr-defined]
    }
    for conn in shared.values():
        conn.inc_thread_sharing()
    try:
        with override_settings(
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, HOST], SECURE_SSL_REDIRECT=False
        ):
            httpd = ThreadedWSGIServer(
                (HOST, 0), QuietHandler, allow_reuse_address=False, connections_override=shared
            )
            httpd.set_app(get_internal_wsgi_application())
            thread = threading.Thread(
                target=httpd.serve_forever, name="status_screenshots server", daemon=True
            )
            thread.start()
            try:
                yield f"http://{HOST}:{httpd.server_address[1]}"
            finally:
                httpd.shutdown()
                httpd.server_close()
                thread.join(timeout=10)
    finally:
        for conn in shared.values():
            conn.dec_thread_sharing()


def check_answers(url: str) -> None:
    """A page that is not there is an error, not a screenshot of an error page."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise CommandError(f"{url} answered {exc.code}; is the status page turned on?") from exc


class Command(BaseCommand):
    help = (
        "Write full-page PNG screenshots of /status/ (and of the first active incident's page) "
        "taken with headless Chromium: 1280 px and 375 px wide, light and dark. Serves the "
        "page itself from the current database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=Path(getattr(settings, "VAR_DIR", "var")) / "screenshots",
            help="Folder the PNG files are written to (default: var/screenshots/).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        reason = browser.unavailable()
        if reason:
            raise CommandError(reason)
        output_dir: Path = options["output_dir"]
        output_dir.mkdir(parents=True, exist_ok=True)
        with serve() as base_url:
            index_url = base_url + reverse("statuspage:index")
            check_answers(index_url)
            try:
                driver = browser.start_chromium()
            except browser.BrowserUnavailable as exc:
                raise CommandError(str(exc)) from exc
            try:
                pages = [("status", index_url)]
                driver.get(index_url)
                incident_link = driver.execute_script(
                    "const a = document.querySelector('#active-incidents ~ .cards a[href]');"
                    " return a ? a.href : null;"
                )
                if incident_link:
                    pages.append(("incident", incident_link))
                for name, url in pages:
                    for suffix, width, scheme in SHOTS:
                        browser.set_color_scheme(driver, scheme)
                        browser.set_viewport(driver, width, 900)
                        driver.get(url)
                        png = browser.full_page_png(driver, width)
                        path = output_dir / f"{name}-{suffix}.png"
                        path.write_bytes(png)
                        shot_width, shot_height = browser.png_size(png)
                        self.stdout.write(f"Wrote {path} ({shot_width}x{shot_height}, {scheme})")
            finally:
                driver.quit()
