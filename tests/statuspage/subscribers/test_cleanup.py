"""Deleting a catalog system or group drops it from the subscribers' topics."""

from __future__ import annotations

import pytest

from catalog import services as catalog
from checkstack.entities import delivery
from checkstack.entities.models import Delivery
from statuspage.models import SubscriberTopic
from statuspage.subscribers.cleanup import GROUP
from tests.statuspage.subscribers.helpers import confirmed

pytestmark = pytest.mark.django_db


def test_deleted_systems_and_groups_leave_the_topics(systems):
    confirmed("ada@example.com", systems=["db", "web"], groups=["backend"])
    catalog.delete_system("web")
    catalog.delete_group("backend")
    for pk in Delivery.objects.filter(group=GROUP).values_list("pk", flat=True):
        delivery.deliver(pk)
    assert list(SubscriberTopic.objects.values_list("kind", "target_id")) == [("system", "db")]
