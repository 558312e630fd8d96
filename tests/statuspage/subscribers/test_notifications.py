"""Notifications: who is told what, exactly once, batched, retried; never anything non-public."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkstack.entities.delivery import change_from_row
from checkstack.entities.models import Change
from incidents import services as incidents
from statuspage.maintenance import services as maintenances
from statuspage.models import Notification, Subscriber
from statuspage.subscribers import fanout, sending
from statuspage.subscribers.choices import NotificationStatus
from statuspage.subscribers.fanout import SEND_TASK
from tests.statuspage.subscribers.helpers import confirmed, recipients, run_deliveries, send_jobs

pytestmark = pytest.mark.django_db


def create_incident(system_ids=("db",), **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("title", "Database down")
    return incidents.create_incident(system_ids=list(system_ids), **fields)


def test_a_new_public_incident_tells_each_matching_confirmed_subscriber_once(systems, workers):
    confirmed("all@example.com")
    confirmed("db@example.com", systems=["db"])
    confirmed("backend@example.com", groups=["backend"])
    confirmed("web@example.com", systems=["web"])
    Subscriber.objects.create(email="unconfirmed@example.com")
    create_incident(["db"], initial_message="We are looking into it")
    results = workers()
    assert recipients() == ["all@example.com", "backend@example.com", "db@example.com"]
    assert results == [{"claimed": 3, "sent": 3, "skipped": 0, "retry": 0, "failed": 0}]
    message = mail.outbox[0]
    assert message.subject == "[System status] Incident: Database down"
    assert "We are looking into it" in message.body
    assert "http://status.example.com/status/incidents/" in message.body
    html = message.alternatives[0][0]
    assert "We are looking into it" in html
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


@pytest.mark.parametrize("visibility", ["internal", "logged_in"])
def test_non_public_incidents_tell_nobody(systems, workers, visibility):
    confirmed("all@example.com")
    incident = create_incident(visibility=visibility)
    incidents.add_update(incident.pk, message="Still broken")
    incidents.resolve_incident(incident.pk)
    workers()
    assert not mail.outbox
    assert not Notification.objects.exists()


def test_an_incident_created_with_suppressed_notifications_tells_nobody_ever(systems, workers):
    confirmed("all@example.com")
    incident = create_incident(suppress_notifications=True)
    incidents.add_update(incident.pk, message="Working on it")
    incidents.resolve_incident(incident.pk)
    workers()
    assert not mail.outbox


@pytest.mark.parametrize("hidden", ["internal", "logged_in"])
def test_public_updates_are_told_and_the_others_never(systems, workers, hidden):
    subscriber = confirmed("all@example.com")
    incident = create_incident()
    workers()
    mail.outbox.clear()
    incidents.add_update(incident.pk, message="Secret root cause", visibility=hidden)
    incidents.add_update(incident.pk, message="Fix deployed", status_change="monitoring")
    workers()
    (message,) = mail.outbox
    assert message.subject == "[System status] Update: Database down"
    assert "Fix deployed" in message.body
    assert "Secret root cause" not in message.body
    assert "Secret root cause" not in message.alternatives[0][0]
    assert subscriber.notifications.count() == 2


def test_an_update_made_public_later_is_told_once(systems, workers):
    confirmed("all@example.com")
    incident = create_incident()
    update = incidents.add_update(incident.pk, message="Cause found", visibility="internal")
    workers()
    mail.outbox.clear()
    incidents.edit_update(incident.pk, update.pk, visibility="public")
    workers()
    assert len(mail.outbox) == 1
    incidents.edit_update(incident.pk, update.pk, visibility="internal")
    incidents.edit_update(incident.pk, update.pk, visibility="public")
    workers()
    assert len(mail.outbox) == 1


def test_resolving_tells_once_however_it_is_resolved(systems, workers):
    confirmed("all@example.com")
    first = create_incident(title="First")
    second = create_incident(title="Second")
    workers()
    mail.outbox.clear()
    incidents.resolve_incident(first.pk, message="Fixed the disk")
    incidents.add_update(second.pk, message="All good again", status_change="resolved")
    workers()
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["[System status] Resolved: First", "[System status] Resolved: Second"]
    assert "All good again" in next(m.body for m in mail.outbox if "Second" in m.subject)


def test_handling_the_same_change_twice_inserts_and_enqueues_nothing_more(systems, jobs):
    confirmed("all@example.com")
    incident = create_incident()
    event = change_from_row(Change.objects.get(kind="incident", entity_id=incident.pk))
    assert len(fanout.notify(fanout.incident_event(event))) == 1
    assert fanout.notify(fanout.incident_event(event)) == []
    assert Notification.objects.count() == 1


def test_running_a_send_task_twice_sends_once(systems, workers):
    confirmed("all@example.com")
    create_incident()
    workers()
    assert len(mail.outbox) == 1
    assert sending.send_batch(str(Notification.objects.get().pk)) == {"claimed": 0}
    assert len(mail.outbox) == 1


def test_ten_thousand_subscribers_make_fifty_tasks_in_a_bounded_number_of_queries(
    systems, jobs, django_capture_on_commit_callbacks
):
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [Subscriber(email=f"s{n}@example.com", confirmed_at=now) for n in range(10_000)],
        batch_size=2000,
    )
    incident = create_incident()
    change = Change.objects.get(kind="incident", entity_id=incident.pk)
    with (
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as queries,
    ):
        fanout.on_incident_changed(change_from_row(change))
    assert len(queries) <= 8
    send_tasks = [arg for func, arg in jobs if func == SEND_TASK]
    assert len(send_tasks) == math.ceil(10_000 / 200) == 50
    ids = [int(i) for arg in send_tasks for i in arg.split(",")]
    assert len(ids) == len(set(ids)) == Notification.objects.count() == 10_000


def test_a_failing_mail_server_is_retried_with_backoff_then_given_up(
    systems, workers, jobs, settings
):
    settings.EMAIL_BACKEND = "tests.statuspage.subscribers.backends.FailingBackend"
    settings.CHECKSTACK_SUBSCRIBERS_MAX_ATTEMPTS = 2
    confirmed("all@example.com")
    create_incident()
    (result,) = workers()
    assert result["retry"] == 1
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.PENDING
    assert notification.attempts == 1
    assert "refused" in notification.last_error
    assert notification.next_attempt_at > timezone.now() + dt.timedelta(seconds=20)
    # Not due yet: the sweeper leaves it; once due, it is enqueued again and fails for good.
    assert sending.sweep() == 0
    Notification.objects.update(next_attempt_at=timezone.now())
    jobs.clear()
    assert sending.sweep() == 1
    assert send_jobs(jobs) == [{"claimed": 1, "sent": 0, "skipped": 0, "retry": 0, "failed": 1}]
    notification.refresh_from_db()
    assert notification.status == NotificationStatus.FAILED
    assert notification.attempts == 2


def test_an_item_no_longer_public_when_its_turn_comes_is_skipped(
    systems, jobs, django_capture_on_commit_callbacks
):
    confirmed("all@example.com")
    incident = create_incident()
    with django_capture_on_commit_callbacks(execute=True):
        run_deliveries()
    incidents.update_incident(incident.pk, visibility="internal")
    send_jobs(list(jobs))
    assert not mail.outbox
    assert Notification.objects.get().status == NotificationStatus.SKIPPED


def test_maintenance_is_told_when_scheduled_and_when_it_starts(systems, workers):
    confirmed("db@example.com", systems=["db"])
    confirmed("web@example.com", systems=["web"])
    now = timezone.now()
    maintenance = maintenances.create_maintenance(
        title="Database upgrade",
        system_ids=["db"],
        starts_at=now + dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=2),
        description="Version 16",
    )
    maintenances.create_maintenance(
        title="Hidden work",
        system_ids=["db"],
        starts_at=now + dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=2),
        visibility="internal",
    )
    workers()
    (message,) = mail.outbox
    assert message.to == ["db@example.com"]
    assert message.subject == "[System status] Scheduled maintenance: Database upgrade"
    assert "Version 16" in message.body
    maintenances.start_maintenance(maintenance.pk)
    workers()
    assert [m.subject for m in mail.outbox][
        1
    ] == "[System status] Maintenance in progress: Database upgrade"


def test_the_html_mail_renders_markdown_and_escapes_html(systems, workers):
    confirmed("all@example.com")
    create_incident(
        initial_message="Jobs run **late**. Looking *now*. <img src=x onerror=alert(1)>"
    )
    workers()
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "<strong>late</strong>" in html and "<em>now</em>" in html
    assert "<img" not in html and "&lt;img" in html
    assert "Looking *now*." in message.body  # the text part keeps the Markdown as typed
