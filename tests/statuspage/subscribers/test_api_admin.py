"""The subscribers REST API (managers only) and the admin (list, topics, counts, remove)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from rest_framework.test import APIClient

from statuspage.models import Notification, Subscriber
from tests.api.helpers import make_user
from tests.statuspage.subscribers.helpers import confirmed, links

pytestmark = pytest.mark.django_db
PATH = "/api/subscribers/"


@pytest.fixture
def manager(db: None) -> APIClient:
    user = make_user("manager")
    user.user_permissions.add(Permission.objects.get(codename="manage_incident"))
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_only_managers_see_subscribers(systems, manager):
    confirmed("ada@example.com")
    assert APIClient().get(PATH).status_code == 401
    reader = APIClient()
    reader.force_authenticate(make_user("reader"))
    assert reader.get(PATH).status_code == 403
    response = manager.get(PATH)
    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["email"] == "ada@example.com"
    assert row["confirmed"] is True
    assert "nonce" not in row and "secret" not in row


def test_the_list_filters_and_stays_within_a_query_budget(
    systems, manager, django_assert_max_num_queries
):
    for n in range(20):
        confirmed(f"s{n}@example.com", systems=["db"] if n % 2 else [])
    Subscriber.objects.create(email="pending@example.com")
    with django_assert_max_num_queries(6):
        body = manager.get(PATH, {"system": "db"}).json()
    assert body["count"] == 10
    assert all(row["system_ids"] == ["db"] for row in body["results"])
    assert manager.get(PATH, {"confirmed": "false"}).json()["count"] == 1
    assert manager.get(PATH, {"search": "s1"}).json()["count"] == 11
    assert manager.get(PATH, {"channel": "nope"}).status_code == 400


def test_a_manager_adds_an_email_subscriber_confirmed_or_with_the_confirmation(systems, manager):
    response = manager.post(PATH, {"email": "Bob@Example.com", "system_ids": ["db"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["confirmed"] is False
    assert "confirm" in links(mail.outbox[0])
    response = manager.post(PATH, {"email": "cy@example.com", "confirmed": True}, format="json")
    assert response.json()["confirmed"] is True
    assert len(mail.outbox) == 1
    duplicate = manager.post(PATH, {"email": "bob@example.com"}, format="json")
    assert duplicate.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"email": "nope"},
        {"email": "a@example.com", "system_ids": ["missing"]},
        {"email": "a@example.com", "colour": "red"},
        {"channel": "webhook", "url": "ftp://example.com/hook"},
        {"channel": "email", "email": "a@example.com", "url": "https://example.com/"},
    ],
)
def test_bad_input_is_a_400_and_adds_nothing(systems, manager, body):
    assert manager.post(PATH, body, format="json").status_code == 400
    assert not Subscriber.objects.exists()


def test_a_webhook_subscriber_gets_a_secret_shown_once(systems, manager):
    response = manager.post(
        PATH, {"channel": "webhook", "url": "https://hooks.example.com/x"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["secret"].startswith("whsec_")
    detail = manager.get(f"{PATH}{response.json()['id']}/").json()
    assert "secret" not in detail
    assert detail["confirmed"] is True


def test_delete_removes_the_subscriber_and_its_notifications(systems, manager):
    subscriber = confirmed("ada@example.com")
    Notification.objects.create(
        subscriber=subscriber, event="incident.created", event_key="k", subject_type="incident",
        subject_id="x",
    )  # fmt: skip
    assert manager.delete(f"{PATH}{subscriber.pk}/").status_code == 204
    assert not Subscriber.objects.exists() and not Notification.objects.exists()
    assert manager.delete(f"{PATH}{subscriber.pk}/").status_code == 404
    assert manager.get(f"{PATH}not-a-uuid/").status_code == 404


def test_the_admin_lists_subscribers_with_topics_and_counts_and_removes_them(systems, admin_client):
    subscriber = confirmed("ada@example.com", systems=["db"])
    Notification.objects.create(
        subscriber=subscriber, event="incident.created", event_key="k", subject_type="incident",
        subject_id="x", status="sent",
    )  # fmt: skip
    page = admin_client.get("/admin/statuspage/subscriber/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "ada@example.com" in body and "system db" in body
    detail = admin_client.get(f"/admin/statuspage/subscriber/{subscriber.pk}/change/").content
    assert subscriber.nonce.encode() not in detail
    response = admin_client.post(
        "/admin/statuspage/subscriber/",
        {"action": "delete_selected", "_selected_action": [str(subscriber.pk)], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Subscriber.objects.exists()
    assert admin_client.get("/admin/statuspage/notification/").status_code == 200
