"""``manage.py bench_recovery``: kill -> redelivery of a webhook in flight, then nothing left.

A real qcluster is SIGKILLed (whole, then one worker), so it needs PostgreSQL.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django_q.models import OrmQ, Task

from bench.management.commands import bench_recovery
from bench.report import render_text
from checkstack.automation.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from checkstack.entities.models import TriggerEvent

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("no_enqueue"),
]


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (WebhookEndpoint, WebhookDelivery, WebhookAttempt, TriggerEvent, OrmQ, Task)
    }


def test_bench_recovery_measures_kill_to_redelivery_and_leaves_nothing_behind() -> None:
    before = row_counts()
    out = io.StringIO()

    call_command("bench_recovery", rounds=1, json=True, stdout=out)

    results: dict[str, Any] = json.loads(out.getvalue())
    assert results["database"]["vendor"] == "postgresql"
    assert results["settings"]["lease_s"] == 5.0
    assert set(results["modes"]) == {"cluster", "worker"}
    for mode in results["modes"].values():
        assert mode["rounds"] == 1
        assert 0 < mode["kill_to_resent"]["max_ms"] <= mode["kill_to_next"]["max_ms"] < 20_000
    assert results["attempts"] == {"held": [2, 2], "later": [1, 1]}
    assert results["requests_received"] == 6
    assert results["cleanup"]["trigger_events"] == 4
    assert row_counts() == before
    text = render_text(bench_recovery.report_of(results))
    assert "Crash recovery of a webhook in flight" in text
