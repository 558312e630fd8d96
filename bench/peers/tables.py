"""The peers' isolated app registry and the incident-shaped row every peer writes."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import models

peer_apps = Apps()
APP_LABEL = "checkstack_bench_peers"


class PeerItem(models.Model):
    """``bench_entities``' ``BenchItem`` columns; each peer has a table of its own."""

    id = models.CharField(primary_key=True, max_length=64)
    status = models.CharField(max_length=20)
    severity = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    updated_at = models.DateTimeField()

    objects: models.Manager[PeerItem] = models.Manager()

    class Meta:
        abstract = True
        apps = peer_apps
        app_label = APP_LABEL

    def __str__(self) -> str:
        return self.id
