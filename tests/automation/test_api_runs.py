"""The run rows of api.md: list (filters, pagination), detail with steps and artifacts, cancel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from checkstack.automation import services as automations
from checkstack.automation.models import Automation, AutomationRun, RunStep
from tests.api.helpers import make_user, post, raw
from tests.automation.helpers import critical_incident_definition, grant, make_run

pytestmark = pytest.mark.django_db

RUNS = "/api/automation/runs/"


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def reader() -> APIClient:
    """Logged in and managing incidents, without ``manage_automation``."""
    return client_for(grant(make_user("rita"), "incidents.manage_incident"))


@pytest.fixture
def automator() -> APIClient:
    return client_for(grant(make_user("otto"), "automation.manage_automation"))


@pytest.fixture
def automation() -> Automation:
    return automations.create_automation(**critical_incident_definition())


@pytest.fixture
def other_automation() -> Automation:
    return automations.create_automation(**{**critical_incident_definition(), "name": "Other"})


# -- permissions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("get", "{id}/"), ("post", "{id}/cancel/")]
)
def test_anonymous_is_401_on_runs(
    anon: APIClient, automation: Automation, method: str, suffix: str
) -> None:
    run = make_run(automation)

    response = getattr(anon, method)(RUNS + suffix.format(id=run.pk), {}, format="json")

    assert response.status_code == 401
    assert AutomationRun.objects.get().status == "running"


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("get", "{id}/"), ("post", "{id}/cancel/")]
)
def test_without_manage_automation_runs_are_403(
    reader: APIClient, automation: Automation, method: str, suffix: str
) -> None:
    run = make_run(automation)

    response = getattr(reader, method)(RUNS + suffix.format(id=run.pk), {}, format="json")

    assert response.status_code == 403
    assert AutomationRun.objects.get().status == "running"


# -- list -------------------------------------------------------------------------------------


def test_list_returns_runs_newest_first_with_steps_and_artifacts(
    automator: APIClient, automation: Automation
) -> None:
    older = make_run(automation, status="success", steps=2)
    newer = make_run(automation, context_key="incident:inc-2")
    AutomationRun.objects.filter(pk=older.pk).update(created_at=older.created_at.replace(year=2020))

    response = automator.get(RUNS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [run["id"] for run in body["results"]] == [str(newer.pk), str(older.pk)]
    listed = body["results"][1]
    assert listed["automation_id"] == automation.pk
    assert listed["status"] == "success"
    assert listed["context_key"] == "incident:inc-1"
    assert [(s["id"], s["action"], s["status"]) for s in listed["steps"]] == [
        ("note0", "incident.add_update", "success"),
        ("note1", "incident.add_update", "success"),
    ]
    assert listed["steps"][0]["result"] == {"update_id": "upd-0"}
    assert [(a["step_id"], a["type"], a["external_id"]) for a in listed["artifacts"]] == [
        ("note0", "incident.update", "upd-0"),
        ("note1", "incident.update", "upd-1"),
    ]


def test_list_filters_by_automation_and_status(
    automator: APIClient, automation: Automation, other_automation: Automation
) -> None:
    running = make_run(automation)
    failed = make_run(automation, status="failed", context_key="incident:inc-2")
    elsewhere = make_run(other_automation)

    def ids(query: str) -> set[str]:
        response = automator.get(RUNS + query)
        assert response.status_code == 200
        return {run["id"] for run in response.json()["results"]}

    assert ids(f"?automation={automation.pk}") == {str(running.pk), str(failed.pk)}
    assert ids(f"?automation={other_automation.pk}") == {str(elsewhere.pk)}
    assert ids("?status=failed") == {str(failed.pk)}
    assert ids(f"?automation={automation.pk}&status=running") == {str(running.pk)}
    assert ids("?automation=no-such-automation") == set()


def test_list_with_an_unknown_status_is_400(automator: APIClient) -> None:
    response = automator.get(RUNS + "?status=exploded")

    assert response.status_code == 400
    assert "status" in response.json()


def test_list_with_nul_in_a_filter_is_400_not_500(automator: APIClient) -> None:
    assert automator.get(RUNS + "?automation=a%00b").status_code == 400


def test_list_is_paginated(automator: APIClient, automation: Automation) -> None:
    for number in range(3):
        make_run(automation, context_key=f"incident:{number}")

    response = automator.get(RUNS + "?page_size=2")

    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None


def test_list_query_count_does_not_grow_with_runs(
    automator: APIClient, automation: Automation, django_assert_max_num_queries: Any
) -> None:
    for number in range(12):
        make_run(automation, steps=3, context_key=f"incident:{number}")

    # session + user + permissions, count, page, steps, artifacts
    with django_assert_max_num_queries(8):
        response = automator.get(RUNS)

    assert len(response.json()["results"]) == 12
    assert all(len(run["steps"]) == 3 for run in response.json()["results"])


# -- detail -----------------------------------------------------------------------------------


def test_detail_has_steps_and_artifacts(automator: APIClient, automation: Automation) -> None:
    run = make_run(automation, status="failed", steps=2, error="Step 'note1' failed: boom")
    RunStep.objects.filter(run=run, position=1).update(status="failed", error="boom")

    response = automator.get(f"{RUNS}{run.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(run.pk)
    assert body["event"] == "incident.created"
    assert body["error"] == "Step 'note1' failed: boom"
    assert body["steps"][1]["status"] == "failed"
    assert body["steps"][1]["error"] == "boom"
    assert len(body["artifacts"]) == 2
    assert body["finished_at"] is not None


@pytest.mark.parametrize("run_id", [str(uuid.uuid4()), "not-a-uuid", "12345", "%E2%98%83", "a%00b"])
def test_unknown_or_malformed_run_id_is_404(automator: APIClient, run_id: str) -> None:
    assert automator.get(f"{RUNS}{run_id}/").status_code == 404
    assert post(automator, f"{RUNS}{run_id}/cancel/", {}).status_code == 404


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_stops_an_active_run_then_a_second_cancel_is_409(
    automator: APIClient, automation: Automation
) -> None:
    run = make_run(automation, steps=2)

    response = post(automator, f"{RUNS}{run.pk}/cancel/", {})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["finished_at"] is not None
    assert body["steps"][1]["status"] == "cancelled"
    assert AutomationRun.objects.get(pk=run.pk).status == "cancelled"

    again = post(automator, f"{RUNS}{run.pk}/cancel/", {})

    assert again.status_code == 409
    assert "detail" in again.json()


def test_cancel_records_the_given_reason(automator: APIClient, automation: Automation) -> None:
    run = make_run(automation, status="waiting")

    response = post(automator, f"{RUNS}{run.pk}/cancel/", {"reason": "Maintenance window"})

    assert response.status_code == 200
    assert AutomationRun.objects.get(pk=run.pk).error == "Maintenance window"


@pytest.mark.parametrize("status", ["success", "failed", "skipped", "cancelled"])
def test_cancelling_a_finished_run_is_409_and_changes_nothing(
    automator: APIClient, automation: Automation, status: str
) -> None:
    run = make_run(automation, status=status)

    response = post(automator, f"{RUNS}{run.pk}/cancel/", {})

    assert response.status_code == 409
    assert AutomationRun.objects.get(pk=run.pk).status == status


def test_cancel_with_an_unknown_field_is_400_and_changes_nothing(
    automator: APIClient, automation: Automation
) -> None:
    run = make_run(automation)

    response = post(automator, f"{RUNS}{run.pk}/cancel/", {"force": True})

    assert response.status_code == 400
    assert response.json() == {"force": ["Unknown field."]}
    assert AutomationRun.objects.get(pk=run.pk).status == "running"


def test_cancel_with_malformed_json_is_400(automator: APIClient, automation: Automation) -> None:
    run = make_run(automation)

    response = raw(automator, "post", f"{RUNS}{run.pk}/cancel/", "{not json")

    assert response.status_code == 400
    assert AutomationRun.objects.get(pk=run.pk).status == "running"
