"""Indexes for the incident list at scale (docs/performance.md, "Scaling"): a partial index of
the active incidents newest first (the default list, and its severity filter, no longer walk
past resolved incidents), and the status index with the id, so a page of one status is read
in order."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_title_trigram_index'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='incident',
            name='incidents_status_idx',
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(condition=models.Q(('status', 'resolved'), _negated=True), fields=['-updated_at', 'id'], name='incidents_active_idx'),
        ),
        migrations.AddIndex(
            model_name='incident',
            index=models.Index(fields=['status', '-updated_at', 'id'], name='incidents_status_idx'),
        ),
    ]
