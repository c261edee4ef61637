"""Restores from the archive's cold tier (README "Cold tier")."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from lakeweb.jobs.models import Job

from .datasets import Dataset


class ColdRestoreState(models.TextChoices):
    REQUESTED = "requested", "requested"  # the job is asking the store for each file
    THAWING = "thawing", "thawing"  # every file asked for; the watch counts readable ones
    READY = "ready", "ready"  # every file readable until expires_at
    EXPIRED = "expired", "expired"  # the readable copies are gone again
    FAILED = "failed", "failed"  # the job could not ask (its error says why)


LIVE_STATES = (ColdRestoreState.REQUESTED, ColdRestoreState.THAWING, ColdRestoreState.READY)


class ColdRestore(models.Model):
    """One request to make a cold dataset's files readable for a while.

    The job issues the requests; the periodic watch then reads the files'
    state in path order, ``files_ready`` being how many of them (from the
    first) are readable, and emails the requester once all are.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="cold_restore")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="cold_restores")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    storage_class = models.CharField(max_length=32)
    tier = models.CharField(max_length=16)
    days = models.PositiveSmallIntegerField()
    state = models.CharField(
        max_length=16, choices=ColdRestoreState.choices, default=ColdRestoreState.REQUESTED
    )
    files_total = models.PositiveIntegerField(default=0)
    files_ready = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One restore under way (or readable) per dataset: a second request
            # would only ask the store again for the same copies.
            models.UniqueConstraint(
                fields=["dataset"],
                condition=models.Q(state__in=LIVE_STATES),
                name="coldrestore_one_live_per_dataset",
            ),
        ]
        indexes = [models.Index(fields=["state", "checked_at"], name="coldrestore_watch_idx")]

    def __str__(self) -> str:
        return f"restore of {self.dataset_id} ({self.state})"
