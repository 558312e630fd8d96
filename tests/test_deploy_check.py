"""The default project under production settings (DEBUG off, a real key, real hosts):
``check --deploy`` raises none of the HTTPS warnings, each setting follows the environment, and
/healthz stays reachable over plain HTTP while everything else redirects to HTTPS."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTTPS_WARNINGS = {"security.W004", "security.W008", "security.W012", "security.W016"}
PRODUCTION = {
    "DJANGO_SECRET_KEY": "a-production-key-" + "x7Gq2-" * 10,
    "DJANGO_ALLOWED_HOSTS": "status.example.com",
}


def run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CHECKSTACK_")) and key not in {"DATABASE_URL"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="checkstack.settings",
        CHECKSTACK_VAR_DIR=str(tmp_path),
        **PRODUCTION,
        **env,
    )
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def deploy_messages(tmp_path: Path, **env: str) -> set[str]:
    done = run(tmp_path, ["manage.py", "check", "--deploy", "--fail-level", "CRITICAL"], **env)
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"\(([a-z_]+\.[WE]\d{3})\)", done.stdout + done.stderr))


def test_check_deploy_raises_no_https_warning_under_production_settings(tmp_path: Path) -> None:
    messages = deploy_messages(tmp_path)

    assert messages & HTTPS_WARNINGS == set()
    assert "checkstack.E001" not in messages  # the key came from the environment


def test_with_subdomains_and_preload_opted_in_check_deploy_is_silent(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECURE_HSTS_SECONDS="31536000",
        DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
        DJANGO_SECURE_HSTS_PRELOAD="1",
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("variable", "warning"),
    [
        ("DJANGO_SECURE_SSL_REDIRECT", "security.W008"),
        ("DJANGO_SESSION_COOKIE_SECURE", "security.W012"),
        ("DJANGO_CSRF_COOKIE_SECURE", "security.W016"),
        ("DJANGO_SECURE_HSTS_SECONDS", "security.W004"),
    ],
)
def test_each_https_setting_can_be_turned_off_from_the_environment(
    tmp_path: Path, variable: str, warning: str
) -> None:
    assert warning in deploy_messages(tmp_path, **{variable: "0"})


def test_debug_turns_the_https_defaults_off_for_local_development(tmp_path: Path) -> None:
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS]))"
    )
    done = run(tmp_path, ["-c", code], DJANGO_DEBUG="1")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, False, False, 0]


REQUESTS = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="status.example.com")
answers = {}
for path in ["/healthz", "/admin/", "/api/incidents/"]:
    response = client.get(path)
    answers[path] = [response.status_code, response.get("Location", "")]
secure = client.get("/healthz", secure=True)
answers["hsts"] = secure.get("Strict-Transport-Security", "")
answers["proxied"] = client.get("/admin/", HTTP_X_FORWARDED_PROTO="https").status_code
print(json.dumps(answers))
"""


def requests_over_http(tmp_path: Path, **env: str) -> dict[str, object]:
    migrated = run(tmp_path, ["manage.py", "migrate", "--noinput", "-v", "0"], **env)
    assert migrated.returncode == 0, migrated.stderr
    done = run(tmp_path, ["-c", REQUESTS], **env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_plain_http_redirects_to_https_except_healthz(tmp_path: Path) -> None:
    answers = requests_over_http(tmp_path)

    assert answers["/healthz"] == [200, ""]
    assert answers["/admin/"] == [301, "https://status.example.com/admin/"]
    assert answers["/api/incidents/"] == [301, "https://status.example.com/api/incidents/"]
    assert answers["hsts"] == "max-age=3600"
    # X-Forwarded-Proto is not trusted unless the deployment says a TLS proxy sets it.
    assert answers["proxied"] == 301


def test_behind_a_tls_proxy_x_forwarded_proto_counts_as_https(tmp_path: Path) -> None:
    answers = requests_over_http(tmp_path, DJANGO_BEHIND_TLS_PROXY="1")

    assert answers["proxied"] == 302  # the admin's redirect to its login page, not to HTTPS
