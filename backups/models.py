"""Backups: snapshots of the whole lake, each made by a job (SPEC §2)."""

from __future__ import annotations

import datetime
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from lakeweb.jobs.models import Job


class BackupKind(models.TextChoices):
    DAILY = "daily", "daily"
    WEEKLY = "weekly", "weekly"
    MANUAL = "manual", "on demand"


class BackupJob(models.Model):
    """What a backup job wrote: its snapshot folder, counts, bytes and errors.

    Status, who asked and when it ran are the job's.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="backup")
    kind = models.CharField(max_length=10, choices=BackupKind.choices)
    prefix = models.CharField(
        max_length=200, blank=True, help_text="Snapshot folder in the backup store."
    )
    # The consistent cut: datasets sealed at or before it are in the snapshot.
    cut = models.DateTimeField(null=True, blank=True)
    dataset_count = models.PositiveIntegerField(default=0)
    object_count = models.PositiveIntegerField(default=0)
    # Bytes copied into the store (new blobs), and bytes of files whose blob it had.
    bytes_copied = models.PositiveBigIntegerField(default=0)
    bytes_reused = models.PositiveBigIntegerField(default=0)
    # manifest.json is written: the snapshot is complete and restorable.
    complete = models.BooleanField(default=False)
    # Retention (or an admin) removed the snapshot; its row stays as history.
    removed_at = models.DateTimeField(null=True, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-job__created_at"]
        permissions = [("trigger_backup", "Can trigger a backup")]

    def __str__(self) -> str:
        return f"{self.kind} backup {self.prefix or self.id} ({self.status})"

    @property
    def status(self) -> str:
        return self.job.status

    @property
    def triggered_by(self) -> AbstractBaseUser | None:
        return self.job.requested_by

    @property
    def created_at(self) -> datetime.datetime:
        return self.job.created_at

    @property
    def started_at(self) -> datetime.datetime | None:
        return self.job.started_at

    @property
    def finished_at(self) -> datetime.datetime | None:
        return self.job.finished_at


class Blob(models.Model):
    """A blob of the backup store (``blobs/sha256/ab/cd/<sha256>``), stored once for every
    snapshot that names it.

    ``last_used_at`` is set before a snapshot checks or copies the blob, so
    garbage collection, which removes only blobs unused for the grace window,
    never removes one a running snapshot relies on.

    ``stored_at`` is set once a snapshot copied the blob or found it in the
    store: later snapshots take the row's word and do not ask the store. A
    row without it (a snapshot died between its copy and this mark, or
    garbage collection is removing the blob) sends the next snapshot to ask.
    """

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    first_stored_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(db_index=True)
    # When fixity last read the blob back and found its SHA-256 (backups/fixity.py).
    verified_at = models.DateTimeField(null=True, blank=True, db_index=True)
    stored_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.sha256


class DrillResult(models.TextChoices):
    PASSED = "passed", "passed"
    FAILED = "failed", "failed"


class Drill(models.Model):
    """What one restore drill proved: a sample of the newest snapshot restored into a
    scratch folder and verified byte for byte (SPEC §2 Restore; backups/services/drill.py).

    Status, who asked and when it ran are the job's; ``result`` stays empty
    until the outcome is recorded, once, whatever worker gets there.
    """

    job = models.OneToOneField(Job, on_delete=models.PROTECT, related_name="drill")
    snapshot = models.CharField(max_length=200, blank=True)
    datasets = models.JSONField(default=list, blank=True, help_text="Ids of the sample.")
    file_count = models.PositiveIntegerField(default=0)
    byte_count = models.PositiveBigIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    result = models.CharField(max_length=8, choices=DrillResult.choices, blank=True)
    # {"dataset": id or "", "reason": text naming the file}, one per failed dataset.
    failures = models.JSONField(default=list, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The admins were mailed about its failure (once, however often the hook runs).
    alerted = models.BooleanField(default=False)

    class Meta:
        ordering = ["-job__created_at"]

    def __str__(self) -> str:
        return f"drill {self.job_id} ({self.result or self.job.status})"


class DrilledDataset(models.Model):
    """When a dataset was last drilled: the sample takes the oldest-drilled first.

    Keyed by the id the snapshot names (a dataset deleted since is drilled too).
    """

    dataset_id = models.UUIDField(primary_key=True)
    drilled_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.dataset_id} drilled {self.drilled_at:%Y-%m-%d}"
