"""The built-in development SECRET_KEY is flagged, and ``scripts/run`` keeps a key per checkout."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks.registry import registry
from django.test import override_settings

from checkstack.secret_key import DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent


def check_ids(*, deploy: bool) -> dict[str, str]:
    """The checkstack.* messages of the registered checks (only ours: other apps' checks may
    need a database)."""
    ours = [
        check
        for check in registry.get_checks(include_deployment_checks=deploy)
        if check.__module__ == "checkstack.checks"
    ]
    messages = [message for check in ours for message in check(app_configs=None)]
    return {m.id: type(m).__name__ for m in messages if m.id and m.id.startswith("checkstack.")}


@override_settings(SECRET_KEY=DEV_SECRET_KEY)
def test_the_built_in_key_gives_a_warning() -> None:
    assert check_ids(deploy=False) == {"checkstack.W001": "Warning"}


@override_settings(SECRET_KEY=DEV_SECRET_KEY)
def test_the_built_in_key_is_an_error_under_check_deploy() -> None:
    assert check_ids(deploy=True) == {"checkstack.W001": "Warning", "checkstack.E001": "Error"}


@pytest.mark.parametrize("deploy", [False, True])
@override_settings(SECRET_KEY="a-custom-key-of-this-installation-0123456789-abcdefghijklmnop")
def test_a_custom_key_gives_no_message(deploy: bool) -> None:
    assert check_ids(deploy=deploy) == {}


def make_key(path: Path) -> str:
    subprocess.run(
        [sys.executable, "-m", "checkstack.secret_key", str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return path.read_text().strip()


def test_the_key_file_is_made_once_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret_key"

    first = make_key(path)
    second = make_key(path)

    assert first == second
    assert len(first) >= 50
    assert first != DEV_SECRET_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_another_checkout_gets_another_key(tmp_path: Path) -> None:
    assert make_key(tmp_path / "a" / "secret_key") != make_key(tmp_path / "b" / "secret_key")


def test_the_key_is_not_printed(tmp_path: Path) -> None:
    path = tmp_path / "secret_key"
    done = subprocess.run(
        [sys.executable, "-m", "checkstack.secret_key", str(path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert path.read_text().strip() not in done.stdout + done.stderr
