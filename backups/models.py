"""Backup jobs: snapshots of the whole lake into the archive layer (SPEC §2)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class BackupKind(models.TextChoices):
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"
    MANUAL = "manual", "on demand"


class BackupStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"


class BackupJob(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=BackupKind.choices)
    status = models.CharField(
        max_length=10, choices=BackupStatus.choices, default=BackupStatus.QUEUED
    )
    prefix = models.CharField(max_length=200, blank=True, help_text="Snapshot folder in archive.")
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    object_count = models.PositiveIntegerField(default=0)
    bytes_copied = models.PositiveBigIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("trigger_backup", "Can trigger a backup")]

    def __str__(self) -> str:
        return f"{self.kind} backup {self.prefix or self.id} ({self.status})"
