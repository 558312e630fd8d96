"""PostgreSQL: two worker threads claiming the same batch send each email once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from catalog import services as catalog
from incidents import services as incidents
from statuspage.models import Notification, Subscriber
from statuspage.subscribers import sending
from tests.threads import Worker, join_all

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class SlowBackend(EmailBackend):
    """locmem, thread-safe, slow enough that both workers are busy at once."""

    lock = threading.Lock()

    def send_messages(self, messages: Any) -> int:
        threading.Event().wait(0.002)
        with self.lock:
            return super().send_messages(messages)


def test_two_workers_claiming_one_batch_send_each_email_once(settings):
    settings.EMAIL_BACKEND = "tests.statuspage.subscribers.test_concurrency_pg.SlowBackend"
    settings.CHECKSTACK_SITE_URL = "http://status.example.com"
    now = timezone.now()
    Subscriber.objects.bulk_create(
        [Subscriber(email=f"s{n}@example.com", confirmed_at=now) for n in range(200)]
    )
    catalog.create_system(id="db", name="DB")
    incident = incidents.create_incident(title="Down", system_ids=["db"])
    Notification.objects.bulk_create(
        [
            Notification(
                subscriber=s, event="incident.created", event_key="k", subject_type="incident",
                subject_id=incident.pk,
            )
            for s in Subscriber.objects.all()
        ]
    )  # fmt: skip
    batch = ",".join(str(pk) for pk in Notification.objects.values_list("pk", flat=True))
    barrier = threading.Barrier(2)

    def work() -> dict[str, int]:
        barrier.wait()
        return sending.send_batch(batch)

    workers = [Worker(work, f"sender-{n}") for n in range(2)]
    for worker in workers:
        worker.start()
    join_all(*workers)
    assert [w.error for w in workers] == [None, None]
    assert len(mail.outbox) == 200
    assert len({m.to[0] for m in mail.outbox}) == 200
    claimed = sorted(w.result["claimed"] for w in workers)
    assert sum(claimed) == 200
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}
