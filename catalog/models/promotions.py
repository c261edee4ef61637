"""Promotions: a dataset copied into the adjacent next layer, as a job (SPEC §2)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.db import models

from lakeweb.jobs.models import Job

from .datasets import Dataset, Layer


class Promotion(models.Model):
    """What a promotion job copies: its source, the layer it goes to, the dataset it makes.

    Status, progress, who asked and how it ended are the job's; one live or
    succeeded promotion per source and layer is the job's unique key.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="promotion")
    source = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="promotions")
    target_layer = models.CharField(max_length=16, choices=Layer.choices)
    target = models.OneToOneField(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="promoted_from"
    )

    class Meta:
        ordering = ["-job__created_at"]

    def __str__(self) -> str:
        return f"{self.source} -> {self.target_layer} ({self.status})"

    @staticmethod
    def unique_key(*, source: Dataset, target_layer: str) -> str:
        return f"promotion:{source.pk}:{target_layer}"

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def requested_by(self) -> Any:
        return self.job.requested_by

    @property
    def files_done(self) -> int:
        return self.job.progress_done

    @property
    def error(self) -> str:
        return self.job.error

    @property
    def created_at(self) -> datetime.datetime:
        return self.job.created_at

    @property
    def finished_at(self) -> datetime.datetime | None:
        return self.job.finished_at
