"""Subscriber input and output shapes of the REST API (the services check the domain rules)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from checkstack.api.serializers import IdListField, StrictInputSerializer
from statuspage.models import Subscriber

from ..choices import Channel, TopicKind


class SubscriberSerializer(serializers.ModelSerializer):
    """A subscriber as managers see it (never its signing secret or link nonce)."""

    system_ids = serializers.SerializerMethodField()
    group_ids = serializers.SerializerMethodField()
    confirmed = serializers.SerializerMethodField()
    notifications = serializers.SerializerMethodField()

    class Meta:
        model = Subscriber
        fields = [
            "id",
            "channel",
            "email",
            "url",
            "everything",
            "system_ids",
            "group_ids",
            "confirmed",
            "confirmed_at",
            "notifications",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def _topics(self, obj: Subscriber, kind: str) -> list[str]:
        return [t.target_id for t in obj.topics.all() if t.kind == kind]

    def get_system_ids(self, obj: Subscriber) -> list[str]:
        return self._topics(obj, TopicKind.SYSTEM)

    def get_group_ids(self, obj: Subscriber) -> list[str]:
        return self._topics(obj, TopicKind.GROUP)

    def get_confirmed(self, obj: Subscriber) -> bool:
        return obj.confirmed_at is not None

    def get_notifications(self, obj: Any) -> dict[str, int]:
        return {
            "sent": int(getattr(obj, "sent_count", 0)),
            "failed": int(getattr(obj, "failed_count", 0)),
        }


class SubscriberCreateSerializer(StrictInputSerializer):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.EMAIL)
    email = serializers.CharField(
        required=False, allow_null=True, max_length=254, trim_whitespace=False
    )
    url = serializers.CharField(
        required=False, allow_null=True, max_length=2000, trim_whitespace=False
    )
    system_ids = IdListField(required=False, allow_null=True)
    group_ids = IdListField(required=False, allow_null=True)
    confirmed = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Email subscribers only: true adds the address confirmed (you vouch for it); "
        "false (default) sends it the confirmation link. Webhook and Slack subscribers are "
        "always confirmed.",
    )


class SubscriberCreatedSerializer(SubscriberSerializer):
    """The 201 body: a webhook subscriber's signing secret is shown this once."""

    secret = serializers.SerializerMethodField()

    class Meta(SubscriberSerializer.Meta):
        fields = [*SubscriberSerializer.Meta.fields, "secret"]
        read_only_fields = fields

    def get_secret(self, obj: Subscriber) -> str | None:
        return obj.secret or None
