"""Catalog tables: systems and groups. Written only through ``catalog.services``."""

from __future__ import annotations

import uuid

from django.db import models


def new_id() -> str:
    return str(uuid.uuid4())


class System(models.Model):
    id = models.CharField(primary_key=True, max_length=100, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("manage_catalog", "Can manage catalog systems and groups")]
        indexes = [models.Index(fields=["name"], name="catalog_system_name_idx")]

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    id = models.CharField(primary_key=True, max_length=100, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    systems = models.ManyToManyField(System, related_name="groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
