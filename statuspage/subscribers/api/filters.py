"""Query parameters of the subscriber list, validated by django-filter, applied by the service."""

from __future__ import annotations

from typing import Any

import django_filters

from checkstack.api.filters import BooleanFilter, ChoiceFilter
from statuspage.models import Subscriber

from .. import services
from ..choices import Channel


class SubscriberFilter(django_filters.FilterSet):
    channel = ChoiceFilter(choices=Channel.choices)
    confirmed = BooleanFilter(help_text="Only confirmed (true) or unconfirmed.")
    system = django_filters.CharFilter(help_text="Only subscribers that chose this system id.")
    group = django_filters.CharFilter(help_text="Only subscribers that chose this group id.")
    search = django_filters.CharFilter(help_text="Case-insensitive substring of the address.")

    class Meta:
        model = Subscriber
        fields: list[str] = []

    def filter_queryset(self, queryset: Any) -> Any:
        data = self.form.cleaned_data
        return services.list_subscribers(
            channel=data.get("channel") or None,
            confirmed=data.get("confirmed"),
            system_id=data.get("system") or None,
            group_id=data.get("group") or None,
            search=data.get("search") or None,
        )
