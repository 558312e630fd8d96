"""``CACHE_URL`` parsing (``checkstack.cacheurl``) and the default project's shared cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from checkstack.cacheurl import (
    DATABASE_CACHE,
    FILE_CACHE,
    LOCMEM_CACHE,
    REDIS_CACHE,
    parse_cache_url,
    redis_url,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("url", "backend", "location"),
    [
        ("redis://:pw@cache.example:6380/2", REDIS_CACHE, "redis://:pw@cache.example:6380/2"),
        ("rediss://cache.example/0", REDIS_CACHE, "rediss://cache.example/0"),
        ("db://checkstack_cache", DATABASE_CACHE, "checkstack_cache"),
        ("file:///var/cache/checkstack", FILE_CACHE, "/var/cache/checkstack"),
        ("locmem://", LOCMEM_CACHE, "checkstack"),
    ],
)
def test_each_scheme_gives_its_backend(url: str, backend: str, location: str) -> None:
    parsed = parse_cache_url(url)

    assert (parsed["BACKEND"], parsed["LOCATION"]) == (backend, location)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memcached://:secret@host:11211", "not memcached://"),
        ("redis://", "needs a host"),
        ("db://drop table;", "table name"),
        ("file://relative/path", "absolute path"),
        ("nothing", "not (none)://"),
    ],
)
def test_bad_urls_are_refused_without_echoing_a_password(url: str, message: str) -> None:
    with pytest.raises(
        ImproperlyConfigured, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as error:
        parse_cache_url(url)

    assert "secret" not in str(error.value)


def _in_default_project(tmp_path: Path, code: str, **env: str) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {"DATABASE_URL", "CACHE_URL", "CHECKSTACK_REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="checkstack.settings", CHECKSTACK_VAR_DIR=str(tmp_path), **env
    )
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_the_default_project_shares_its_cache_between_processes(tmp_path: Path) -> None:
    # A worker process invalidates the status page; the web process must see the new version.
    _in_default_project(
        tmp_path,
        "from statuspage.page.cache import VERSION_KEY, page_cache\n"
        "page_cache().set(VERSION_KEY, 'set-by-the-worker', None)",
    )

    seen = _in_default_project(
        tmp_path,
        "from statuspage.page.cache import VERSION_KEY, page_cache\n"
        "print(page_cache().get(VERSION_KEY))",
    )

    assert seen == "set-by-the-worker"


def test_cache_url_chooses_the_backend_of_the_default_project(tmp_path: Path) -> None:
    backend = _in_default_project(
        tmp_path,
        "from django.conf import settings\nprint(settings.CACHES['default']['BACKEND'])",
        CACHE_URL="locmem://",
    )

    assert backend == LOCMEM_CACHE


BROKER_AND_CACHE = (
    "from django.conf import settings\n"
    "print(settings.Q_CLUSTER.get('orm'), settings.Q_CLUSTER.get('redis'),"
    " settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION'])"
)


def test_without_a_redis_url_the_default_project_queues_in_the_database(tmp_path: Path) -> None:
    seen = _in_default_project(tmp_path, BROKER_AND_CACHE)

    assert seen == f"default None {FILE_CACHE} {tmp_path / 'cache'}"


def test_a_redis_url_makes_redis_the_broker_and_the_cache(tmp_path: Path) -> None:
    seen = _in_default_project(
        tmp_path, BROKER_AND_CACHE, CHECKSTACK_REDIS_URL="redis://:pw@redis.internal:6380/2"
    )

    url = "redis://:pw@redis.internal:6380/2"
    assert seen == f"None {url} {REDIS_CACHE} {url}"


def test_cache_url_still_chooses_the_cache_next_to_a_redis_broker(tmp_path: Path) -> None:
    seen = _in_default_project(
        tmp_path,
        BROKER_AND_CACHE,
        CHECKSTACK_REDIS_URL="redis://redis.internal:6379/0",
        CACHE_URL="redis://redis.internal:6379/1",
    )

    assert seen == f"None redis://redis.internal:6379/0 {REDIS_CACHE} redis://redis.internal:6379/1"


@pytest.mark.parametrize(
    "url", [" redis://r.internal:6379/0 ", "rediss://r.internal/0", "unix:///run/redis.sock"]
)
def test_redis_urls_that_redis_py_reads_are_accepted(url: str) -> None:
    assert redis_url(url, setting="CHECKSTACK_REDIS_URL") == url.strip()


@pytest.mark.parametrize(
    ("url", "message"),
    [("http://:secret@r.internal", "not http://"), ("redis://", "needs a host")],
)
def test_bad_redis_urls_name_the_setting_without_echoing_a_password(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"^CHECKSTACK_REDIS_URL: .*{message}") as error:
        redis_url(url, setting="CHECKSTACK_REDIS_URL")

    assert "secret" not in str(error.value)
