"""Enqueueing after COMMIT on django-q2's Redis broker (``outbox.enqueue_tasks``): one RPUSH per
write, in order, over a connection the process keeps; a Redis outage is logged, not raised.

Needs a Redis (the ``broker`` fixture: ``CHECKSTACK_TEST_REDIS_URL`` or a private
redis-server), not PostgreSQL.
"""

from __future__ import annotations

import logging

import pytest
import redis
from django_q.conf import Conf
from django_q.signing import SignedPackage

from checkstack.entities.outbox import DELIVER_TASK, DISPATCH_TASK, enqueue_tasks
from tests.qcluster import Broker, free_port

pytestmark = pytest.mark.parametrize("broker", ["redis"], indirect=True)

EVENT_ID = "3f2c9a4e-0000-4000-8000-000000000000"


def queue_key() -> str:
    return f"django_q:{Conf.CLUSTER_NAME}:q"


def test_a_writes_tasks_are_pushed_with_one_rpush_in_their_order(broker: Broker) -> None:
    client = redis.Redis.from_url(broker.redis_url)
    client.config_resetstat()

    enqueue_tasks([(DELIVER_TASK, 1), (DELIVER_TASK, 2), (DISPATCH_TASK, EVENT_ID)])

    assert client.info("commandstats")["cmdstat_rpush"]["calls"] == 1
    tasks = [SignedPackage.loads(package) for package in client.lrange(queue_key(), 0, -1)]
    assert [(task["func"], task["args"]) for task in tasks] == [
        (DELIVER_TASK, (1,)),
        (DELIVER_TASK, (2,)),
        (DISPATCH_TASK, (EVENT_ID,)),
    ]
    assert [task["name"] for task in tasks] == [
        "deliver:1",
        "deliver:2",
        f"dispatch_trigger_event:{EVENT_ID}",
    ]


def test_successive_writes_reuse_one_redis_connection(broker: Broker) -> None:
    client = redis.Redis.from_url(broker.redis_url)
    enqueue_tasks([(DELIVER_TASK, 1)])  # the process's connection, if not open yet
    before = client.info("stats")["total_connections_received"]

    for n in range(20):
        enqueue_tasks([(DELIVER_TASK, n)])

    assert client.info("stats")["total_connections_received"] == before
    assert client.llen(queue_key()) == 21


def test_an_unreachable_redis_is_logged_and_not_raised(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens

    with caplog.at_level(logging.ERROR, logger="checkstack.entities"):
        enqueue_tasks([(DELIVER_TASK, 1), (DELIVER_TASK, 2)])

    (logged,) = [r for r in caplog.records if r.name == "checkstack.entities"]
    assert "Could not enqueue 2 task(s)" in logged.getMessage()
    assert logged.exc_info is not None and isinstance(logged.exc_info[1], redis.ConnectionError)
