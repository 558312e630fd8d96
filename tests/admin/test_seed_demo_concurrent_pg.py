"""Two ``seed_demo`` runs at the same time on PostgreSQL (issue 17 item 11): before, the second
ended in a raw ``Conflict`` traceback; now it waits for the first and finds the data there."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.core.management.base import CommandError
from django.db import connection

from catalog.models import Group, System
from incidents.management.commands.seed_demo import INCIDENTS, LOCK_KEY, SYSTEMS
from incidents.models import Incident
from statuspage.management.commands.seed_status_demo import MAINTENANCES, SUBSCRIBERS
from statuspage.models import Maintenance, Subscriber
from tests.admin.test_seed_demo import row_counts, seed
from tests.processes import fork_workers, join_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_concurrent_runs_both_succeed_and_seed_once() -> None:
    assert join_all(fork_workers([seed, seed])) == [0, 0]
    assert System.objects.count() == len(SYSTEMS)
    assert Group.objects.count() == 1
    assert Incident.objects.count() == len(INCIDENTS)
    assert Maintenance.objects.count() == len(MAINTENANCES)
    assert Subscriber.objects.count() == len(SUBSCRIBERS)
    before = row_counts()
    assert "nothing created" in seed()
    assert row_counts() == before


def test_a_run_that_waits_too_long_is_a_clear_error_and_creates_nothing(settings: Any) -> None:
    settings.CHECKSTACK_LOCK_TIMEOUT = 0.2
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=False) as other:  # another seed_demo, still running
        other.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [LOCK_KEY])
        with pytest.raises(CommandError, match="Another seed_demo is still running"):
            seed()
    assert not System.objects.exists()
    assert not Incident.objects.exists()
