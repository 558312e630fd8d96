"""django-simple-history's ``HistoricalRecords`` for a model of an isolated app registry."""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from simple_history.models import HistoricalRecords


class IsolatedHistoricalRecords(HistoricalRecords):  # type: ignore[misc]
    """The generated history model joins the tracked model's registry, and its class this
    module: simple-history would look the tracked model's app up in the global app registry
    (to put the class into the app's models module), which has no app of an isolated one."""

    def __init__(self, *, apps: Apps, **kwargs: Any) -> None:
        self.isolated_apps = apps
        super().__init__(**kwargs)

    def contribute_to_class(self, cls: Any, name: str) -> None:
        super().contribute_to_class(cls, name)
        self.module = __name__  # where ``finalize`` puts the history class

    def get_meta_options(self, model: Any) -> dict[str, Any]:
        return {**super().get_meta_options(model), "apps": self.isolated_apps}
