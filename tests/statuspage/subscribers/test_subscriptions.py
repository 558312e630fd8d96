"""The public subscription flow: double opt-in, signed links, preferences, unsubscribing."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from statuspage.models import Subscriber, SubscriberTopic
from statuspage.subscribers import services
from statuspage.subscribers.tokens import Purpose, make_token
from tests.statuspage.subscribers.helpers import confirmed, links

pytestmark = pytest.mark.django_db


def subscribe(client: Client, email: str, **lists: list[str]):  # type: ignore[no-untyped-def]
    return client.post("/status/subscribe/", {"email": email, **lists})


def test_subscribing_sends_a_confirmation_link_and_confirming_it_subscribes(client, systems):
    response = subscribe(client, "Ada@Example.COM", system_ids=["db"])
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "ada@example.com"
    assert subscriber.confirmed_at is None
    assert not subscriber.everything
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    confirm = links(message)["confirm"]
    response = client.get(confirm)
    assert response.status_code == 200
    assert "You are subscribed" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    assert list(subscriber.topics.values_list("kind", "target_id")) == [("system", "db")]
    # Following it again changes nothing and still says so.
    assert client.get(confirm).status_code == 200


def test_every_mail_has_an_unsubscribe_link_and_one_click_headers(client, systems):
    subscribe(client, "ada@example.com")
    (message,) = mail.outbox
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith("http://status.example.com/status/subscribe/unsubscribe/")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url in message.body
    assert unsubscribe_url in message.alternatives[0][0]


def test_subscribing_an_unconfirmed_address_again_resends_the_confirmation(client, systems):
    subscribe(client, "ada@example.com", system_ids=["db"])
    subscribe(client, "ada@example.com", group_ids=["backend"])
    assert Subscriber.objects.count() == 1
    assert len(mail.outbox) == 2
    assert "confirm" in links(mail.outbox[1])
    topics = SubscriberTopic.objects.values_list("kind", "target_id")
    assert list(topics) == [("group", "backend")]  # the latest request is what gets confirmed


def test_subscribing_a_confirmed_address_changes_nothing_and_tells_only_the_address(
    client, systems
):
    subscriber = confirmed("ada@example.com", systems=["db"])
    response = subscribe(client, "ada@example.com", system_ids=["web"])
    assert response.status_code == 200
    assert "Check your inbox" in response.content.decode()  # the same page as for a new address
    assert list(subscriber.topics.values_list("target_id", flat=True)) == ["db"]
    (message,) = mail.outbox
    assert "already subscribed" in message.body
    assert "confirm" not in links(message)
    assert "manage" in links(message)


def test_resends_are_spaced(client, systems, settings):
    settings.CHECKSTACK_SUBSCRIBERS_RESEND_INTERVAL = 300
    subscribe(client, "ada@example.com")
    result = services.subscribe("ada@example.com")
    assert result.outcome == services.Subscribed.NOT_MAILED
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "email", ["", "not-an-address", "a@b", "x" * 250 + "@example.com", "a\x00@b.com"]
)
def test_an_invalid_email_is_a_form_error_and_changes_nothing(client, systems, email):
    response = subscribe(client, email)
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert not Subscriber.objects.exists()
    assert not mail.outbox


def test_unknown_system_or_group_ids_are_a_form_error_and_change_nothing(client, systems):
    response = subscribe(client, "ada@example.com", system_ids=["db", "nope"], group_ids=["gone"])
    assert response.status_code == 400
    body = response.content.decode()
    assert "Unknown system ids: nope." in body
    assert "Unknown group ids: gone." in body
    assert not Subscriber.objects.exists()
    assert not mail.outbox


def test_a_forged_link_is_a_400_and_changes_nothing(client, systems):
    subscribe(client, "ada@example.com")
    token = links(mail.outbox[0])["confirm"].split("/")[-2]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for path in ("confirm", "manage", "unsubscribe"):
        response = client.get(f"/status/subscribe/{path}/{forged}/")
        assert response.status_code == 400
        assert "not valid" in response.content.decode()
    assert client.post(f"/status/subscribe/unsubscribe/{forged}/").status_code == 400
    assert Subscriber.objects.get().confirmed_at is None


def test_an_expired_confirmation_link_is_a_400_and_changes_nothing(client, systems, settings):
    subscribe(client, "ada@example.com")
    settings.CHECKSTACK_SUBSCRIBERS_CONFIRM_MAX_AGE = -1
    response = client.get(links(mail.outbox[0])["confirm"])
    assert response.status_code == 400
    assert "expired" in response.content.decode()
    assert Subscriber.objects.get().confirmed_at is None


def test_a_link_for_another_purpose_is_refused(client, systems):
    subscriber = confirmed("ada@example.com")
    manage_token = make_token(subscriber, Purpose.MANAGE)
    assert client.get(f"/status/subscribe/confirm/{manage_token}/").status_code == 400
    assert client.post(f"/status/subscribe/unsubscribe/{manage_token}/").status_code == 400
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()


def test_the_manage_page_changes_preferences(client, systems):
    subscriber = confirmed("ada@example.com")
    path = f"/status/subscribe/manage/{make_token(subscriber, Purpose.MANAGE)}/"
    page = client.get(path)
    assert page.status_code == 200
    assert "ada@example.com" in page.content.decode()
    response = client.post(path, {"system_ids": ["web"], "group_ids": ["backend"]})
    assert response.status_code == 200
    subscriber.refresh_from_db()
    assert not subscriber.everything
    assert sorted(subscriber.topics.values_list("target_id", flat=True)) == ["backend", "web"]
    assert client.post(path, {"system_ids": ["nope"]}).status_code == 400
    assert sorted(subscriber.topics.values_list("target_id", flat=True)) == ["backend", "web"]
    client.post(path, {})
    subscriber.refresh_from_db()
    assert subscriber.everything
    assert not subscriber.topics.exists()


def test_unsubscribing_asks_first_then_deletes_and_every_link_stops_working(systems):
    client = Client(enforce_csrf_checks=True)
    subscriber = confirmed("ada@example.com")
    manage_path = f"/status/subscribe/manage/{make_token(subscriber, Purpose.MANAGE)}/"
    path = f"/status/subscribe/unsubscribe/{make_token(subscriber, Purpose.UNSUBSCRIBE)}/"
    page = client.get(path)
    assert page.status_code == 200
    assert Subscriber.objects.exists()
    # A plain POST needs the page's CSRF token: only the one-click POST is exempt.
    assert client.post(path).status_code == 403
    assert Subscriber.objects.exists()
    csrf = page.cookies["csrftoken"].value
    response = client.post(path, {"csrfmiddlewaretoken": csrf})
    assert response.status_code == 200
    assert "unsubscribed" in response.content.decode()
    assert not Subscriber.objects.exists()
    assert client.get(manage_path).status_code == 404
    assert client.get(path).status_code == 404


def test_token_pages_keep_the_referrer_on_the_site_so_their_forms_pass_csrf(systems):
    # "no-referrer" would keep the token from other sites too, but browsers then send
    # "Origin: null" with the page's own form POST, which CSRF protection refuses (the
    # browser test shows it end to end).
    subscriber = confirmed("ada@example.com")
    path = f"/status/subscribe/unsubscribe/{make_token(subscriber, Purpose.UNSUBSCRIBE)}/"
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page["Referrer-Policy"] == "same-origin"
    assert page["Cache-Control"] == "no-store"
    csrf = page.cookies["csrftoken"].value
    refused = client.post(path, {"csrfmiddlewaretoken": csrf}, headers={"origin": "null"})
    assert refused.status_code == 403
    assert Subscriber.objects.exists()
    response = client.post(
        path, {"csrfmiddlewaretoken": csrf}, headers={"origin": "http://testserver"}
    )
    assert response.status_code == 200
    assert not Subscriber.objects.exists()


def test_the_one_click_post_unsubscribes_without_a_csrf_token(systems):
    client = Client(enforce_csrf_checks=True)
    subscriber = confirmed("ada@example.com")
    path = f"/status/subscribe/unsubscribe/{make_token(subscriber, Purpose.UNSUBSCRIBE)}/"
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert not Subscriber.objects.exists()
    assert client.post(path, {"List-Unsubscribe": "One-Click"}).status_code == 200


def test_a_resubscribed_address_does_not_revive_old_links(client, systems):
    subscriber = confirmed("ada@example.com")
    old = make_token(subscriber, Purpose.MANAGE)
    services.unsubscribe(subscriber.pk)
    subscribe(client, "ada@example.com")
    assert client.get(f"/status/subscribe/manage/{old}/").status_code == 404


def test_the_pages_are_404_while_the_status_page_is_off(client, systems, settings):
    settings.CHECKSTACK_STATUS_PAGE_ENABLED = False
    assert subscribe(client, "ada@example.com").status_code == 404
    assert client.get("/status/subscribe/").status_code == 404
    assert not Subscriber.objects.exists()


def test_the_subscribe_page_offers_systems_and_groups(client, systems):
    body = client.get("/status/subscribe/").content.decode()
    assert 'name="system_ids" value="db"' in body
    assert 'name="group_ids" value="backend"' in body


def test_the_status_page_footer_has_the_form(client, systems):
    body = client.get("/status/").content.decode()
    assert 'action="/status/subscribe/"' in body
    assert 'name="email"' in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_a_mail_server_failure_is_a_503_page_and_a_retry_can_send(client, systems, settings):
    settings.EMAIL_BACKEND = "tests.statuspage.subscribers.backends.FailingBackend"
    response = subscribe(client, "ada@example.com")
    assert response.status_code == 503
    assert "try again" in response.content.decode()
    assert Subscriber.objects.get().mailed_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert subscribe(client, "ada@example.com").status_code == 200
    assert "confirm" in links(mail.outbox[0])
