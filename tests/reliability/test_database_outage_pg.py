"""A web process while its PostgreSQL server is down and restarting (issue 17 item 5): the API
answers JSON 503 with ``Retry-After``, the admin a short 503 page, nothing is logged as an
unhandled error, and once the server is back the same process answers 200 again.

The test runs its own throwaway cluster (``initdb`` in a directory under /tmp, a free port; as
the ``postgres`` user when run as root, as ``.ci/run`` does), never the server of
``DATABASE_URL``; it needs the PostgreSQL binaries and is skipped without them. The web process
is ``manage.py runserver --noreload --nothreading`` with the product settings: one thread, so
its persistent connection (``CONN_MAX_AGE``) is the one the outage breaks.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings

from checkstack.database_outage import UNAVAILABLE
from tests.processes import stop_process

pytestmark = pytest.mark.postgres

BASE_DIR = Path(settings.BASE_DIR)
DATABASE = "h17_outage_web"
RESTART_DEADLINE = 30.0


def pg_bindir() -> Path | None:
    """PostgreSQL 15 as in CI (.ci/run), else the highest version installed."""
    preferred = Path("/usr/lib/postgresql/15/bin")
    if (preferred / "initdb").exists():
        return preferred
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def pg(self, *args: str, wait: bool = True) -> subprocess.Popen[bytes] | None:
        """Run a PostgreSQL tool as the ``postgres`` user (initdb and pg_ctl refuse root)."""
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        command = [*as_postgres, str(self.bindir / args[0]), *args[1:]]
        if not wait:
            return subprocess.Popen(
                command, cwd=self.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
        return None

    def start(self, *, wait: bool = True) -> None:
        log = str(self.root / "postgres.log")
        if wait:
            self.pg("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "30", "start")
        else:
            self.pg("pg_ctl", "-D", str(self.data), "-l", log, "-W", "start")

    def stop(self) -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("needs the PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot run initdb as postgres")
    root = Path(tempfile.mkdtemp(prefix="h17_outage_pg.", dir="/tmp"))
    cluster = Cluster(bindir=bindir, root=root, port=free_port())
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
        (root / "sock").mkdir()
        if os.geteuid() == 0:
            shutil.chown(root / "sock", "postgres")
        cluster.pg(
            "initdb",
            "-D",
            str(cluster.data),
            "--auth=trust",
            "-U",
            "postgres",
            "--no-locale",
            "-E",
            "UTF8",
        )
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{root / 'sock'}'\n"
                "fsync = off\n"  # an immediate stop is no OS crash; commits stay synchronous
            )
        cluster.start()
        started = True
        cluster.pg(
            "createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", DATABASE
        )
        yield cluster
    finally:
        if started:
            with contextlib.suppress(Exception):
                cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def web_environment(cluster: Cluster) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "checkstack.settings",
        "DATABASE_URL": cluster.url,
        "CHECKSTACK_VAR_DIR": str(cluster.root / "var"),
        "DJANGO_DEBUG": "0",
        # Plain HTTP on loopback: no redirect to https, the session cookie sent back.
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SESSION_COOKIE_SECURE": "0",
        "CHECKSTACK_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


SETUP = """
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token
from catalog import services
services.create_system(id="db", name="Database")
user = get_user_model().objects.create_superuser("ops", "ops@example.com", "not-used-here")
client = Client()
client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
print(Token.objects.create(user=user).key, client.cookies["sessionid"].value)
"""


def manage(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"manage.py {args[0]}: {result.stdout}\n{result.stderr}"
    return result.stdout


@contextlib.contextmanager
def web_server(
    environment: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with log.open("wb") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runserver",
                "--noreload",
                "--nothreading",
                f"127.0.0.1:{port}",
            ],
            cwd=BASE_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            stop_process(server)


class Web:
    def __init__(self, base: str, token: str, session: str) -> None:
        self.base = base
        self.token = {"Authorization": f"Token {token}"}
        self.cookies = {"sessionid": session}
        self.refused = 0  # 503 answers seen

    def _seen(self, response: requests.Response) -> requests.Response:
        if response.status_code == 503:
            self.refused += 1
        return response

    def list_incidents(self) -> requests.Response:
        return self._seen(
            requests.get(f"{self.base}/api/incidents/", headers=self.token, timeout=10)
        )

    def list_anonymously(self) -> requests.Response:
        return self._seen(requests.get(f"{self.base}/api/incidents/", timeout=10))

    def create_incident(self, title: str) -> requests.Response:
        body = {"title": title, "severity": "critical", "system_ids": ["db"]}
        return self._seen(
            requests.post(f"{self.base}/api/incidents/", json=body, headers=self.token, timeout=10)
        )

    def admin_index(self) -> requests.Response:
        return self._seen(requests.get(f"{self.base}/admin/", cookies=self.cookies, timeout=10))


def wait_until_serving(web: Web, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")
        with contextlib.suppress(requests.ConnectionError):
            if web.list_incidents().status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"the web server did not come up\n{log.read_text(errors='replace')}")


def assert_api_refused(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"detail": UNAVAILABLE}
    assert response.headers["Retry-After"] == "2"
    assert response.headers["Cache-Control"] == "no-store"


def assert_page_refused(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>Service unavailable</h1>" in response.text
    assert UNAVAILABLE in response.text
    assert len(response.content) < 1000  # a short page, not the admin or a debug page
    assert response.headers["Retry-After"] == "2"


def test_api_and_admin_answer_503_while_postgresql_restarts_and_recover_after(
    cluster: Cluster, tmp_path: Path
) -> None:
    environment = web_environment(cluster)
    manage(environment, "migrate", "--noinput")
    token, session = manage(environment, "shell", "-c", SETUP).split()[-2:]
    log = tmp_path / "web.log"
    with web_server(environment, log) as (base, server):
        web = Web(base, token, session)
        wait_until_serving(web, server, log)
        assert web.admin_index().status_code == 200
        created = web.create_incident("before the outage")
        assert created.status_code == 201, created.text

        cluster.stop()  # the web process's persistent connection is now broken
        for _ in range(2):  # the broken connection first, then "connection refused"
            assert_api_refused(web.list_incidents())
            assert_api_refused(web.list_anonymously())
            assert_api_refused(web.create_incident("during the outage"))
            assert_page_refused(web.admin_index())

        cluster.start(wait=False)  # requests while the server starts up
        statuses: list[tuple[int, int]] = []
        deadline = time.monotonic() + RESTART_DEADLINE
        while time.monotonic() < deadline:
            api, page = web.list_incidents(), web.admin_index()
            statuses.append((api.status_code, page.status_code))
            if api.status_code == 503:
                assert_api_refused(api)
            if page.status_code == 503:
                assert_page_refused(page)
            if (api.status_code, page.status_code) == (200, 200):
                break
            time.sleep(0.05)
        assert statuses and statuses[-1] == (200, 200), statuses
        assert {s for pair in statuses for s in pair} <= {200, 503}, statuses

        # Back without restarting the web process: reads and writes succeed.
        assert server.poll() is None
        created = web.create_incident("after the outage")
        assert created.status_code == 201, created.text
        listed = web.list_incidents()
        assert listed.status_code == 200
        titles = {incident["title"] for incident in listed.json()["results"]}
        assert titles == {"before the outage", "after the outage"}
        assert web.admin_index().status_code == 200

    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output
    assert "Internal Server Error" not in output, output
    assert "django.request" not in output, output  # Django's own 5xx lines are not repeated
    warnings = [line for line in output.splitlines() if "WARNING checkstack.database:" in line]
    assert len(warnings) == web.refused, output
    assert all("answered 503" in line for line in warnings), warnings
