"""p1: ``save()`` with django-simple-history (its ``post_save`` inserts the historical row: the
new state, the date, the change type), then ``on_commit(async_task)``."""

from __future__ import annotations

from typing import Any

from django.db import models, transaction

from . import as_logged, count_rows, enqueue_after_commit, save_other_severity
from .isolated_history import IsolatedHistoricalRecords
from .tables import PeerItem, peer_apps


class SimpleHistoryItem(PeerItem):
    # the user's id as a plain column: the isolated registry has no auth.User to point at
    history = IsolatedHistoricalRecords(
        apps=peer_apps,
        table_name="checkstack_bench_peer_simple_history_event",
        history_user_id_field=models.IntegerField(null=True),
    )

    class Meta(PeerItem.Meta):
        db_table = "checkstack_bench_peer_simple_history_item"


def history_model() -> Any:
    return SimpleHistoryItem.history.model  # type: ignore[attr-defined]


class SimpleHistoryPeer:
    key = "p1"
    label = "(p1) save() + django-simple-history + on_commit(async_task)"
    item_model = SimpleHistoryItem

    @property
    def models(self) -> tuple[type[models.Model], ...]:
        return (SimpleHistoryItem, history_model())

    def install(self) -> None:
        pass

    def uninstall(self) -> None:
        pass

    def write(self, item_id: str) -> None:
        with transaction.atomic():
            item, _ = save_other_severity(SimpleHistoryItem, item_id)
            enqueue_after_commit(item.id)

    def logged(self) -> dict[str, int]:
        return as_logged(history_rows=count_rows(history_model()))
