"""The append-only log of every action on datasets (SPEC §2).

Catalog, provenance and backups all write and read it, so it lives in the
app the others depend on. It began in ``provenance``; the tables kept their
names when it moved, so no row was copied.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Activity(models.TextChoices):
    COLLECTION = "collection", "collection"
    PROMOTION = "promotion", "promotion"
    PIPELINE = "pipeline", "pipeline"
    DERIVATION = "derivation", "derivation"
    NOTE = "note", "manual note"
    BACKUP = "backup", "backup"
    RESTORE = "restore", "restore"
    VERIFICATION = "verification", "verification"


class ProvenanceEvent(models.Model):
    """One recorded action. Rows are only ever added, never edited."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.CharField(max_length=20, choices=Activity.choices)
    dataset = models.ForeignKey(
        "catalog.Dataset",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="provenance_events",
        help_text="The dataset this action produced or acted on.",
    )
    used = models.ManyToManyField(
        "catalog.Dataset",
        blank=True,
        related_name="used_by_events",
        help_text="Source datasets.",
        db_table="provenance_provenanceevent_used",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    actor_label = models.CharField(max_length=254, help_text="Who acted, kept if the user goes.")
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    source_layer = models.CharField(max_length=16, blank=True)
    target_layer = models.CharField(max_length=16, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "provenance_provenanceevent"
        ordering = ["occurred_at"]
        indexes = [models.Index(fields=["dataset", "occurred_at"], name="prov_dataset_time_idx")]

    def __str__(self) -> str:
        return f"{self.activity} by {self.actor_label} at {self.occurred_at:%Y-%m-%d %H:%M}"
