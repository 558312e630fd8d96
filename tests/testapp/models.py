"""Test-only models: an incident-shaped row with linked ids, and a plain row for lock tests."""

from django.db import models


class Widget(models.Model):
    id = models.CharField(primary_key=True, max_length=64)
    status = models.CharField(max_length=20, default="open")
    severity = models.CharField(max_length=20, default="major")
    secret_note = models.TextField(blank=True, default="")
    title = models.CharField(max_length=200, blank=True, default="")
    counter = models.IntegerField(default=0)


class WidgetTag(models.Model):
    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["widget", "tag"], name="testapp_tag_uniq")]


class Slot(models.Model):
    """No unique constraint on purpose: the advisory-lock test proves find-then-create safety."""

    name = models.CharField(max_length=64)
    owner = models.CharField(max_length=64, default="")


class Record(models.Model):
    key = models.CharField(max_length=64, unique=True)
