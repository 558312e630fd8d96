"""What a benchmark ran on: the database (vendor, version, the settings that move the figures,
the broker) and the machine (CPUs, load, Python)."""

from __future__ import annotations

import os
import platform
import sqlite3
from typing import Any

import django
from django.db import connection

from checkstack.entities.conf import app_settings


def database_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "vendor": connection.vendor,
        "name": str(connection.settings_dict["NAME"]),
        "django": django.get_version(),
        "conn_max_age": connection.settings_dict.get("CONN_MAX_AGE"),
        "conn_health_checks": connection.settings_dict.get("CONN_HEALTH_CHECKS"),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT current_setting('server_version'), current_setting('synchronous_commit'), "
                "current_setting('fsync'), current_setting('shared_buffers'), "
                "coalesce(inet_server_addr()::text, 'unix socket')"
            )
            version, synchronous_commit, fsync, shared_buffers, address = cursor.fetchone()
            facts["version"] = version
            facts["settings"] = {
                "synchronous_commit": synchronous_commit,
                "fsync": fsync,
                "shared_buffers": shared_buffers,
                "server": address,
            }
            try:
                import psycopg

                facts["driver"] = f"psycopg {psycopg.__version__}"
            except ImportError:
                facts["driver"] = "psycopg2"
        elif connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            (journal_mode,) = cursor.fetchone()
            cursor.execute("PRAGMA synchronous")
            (synchronous,) = cursor.fetchone()
            facts["version"] = sqlite3.sqlite_version
            facts["settings"] = {
                "journal_mode": journal_mode,
                "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
                    synchronous, synchronous
                ),
                "transaction_mode": connection.settings_dict.get("OPTIONS", {}).get(
                    "transaction_mode"
                ),
                "background_checkpoints": app_settings.SQLITE_BACKGROUND_CHECKPOINTS,
            }
        else:
            facts["version"] = "unknown"
            facts["settings"] = {}
    facts["broker"] = broker_name()
    return facts


def broker_name() -> str:
    try:
        from django_q.conf import Conf
    except ImportError:
        return "none"
    if Conf.ORM:
        return f"django-q2 ORM ({Conf.ORM})"
    return "django-q2 (non-ORM)"


def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cpus": len(affinity(0)) if affinity else os.cpu_count(),
        "cpu_model": cpu,
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else None,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
