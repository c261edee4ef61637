"""The one model of long work (SPEC §2, Jobs): NetBox's ``Job``, for lakeweb.

Every promotion, registration, backup, restore, fixity batch, drill and
pipeline run is a row here. The row is written in the request's transaction
and is the outbox: the message to a worker goes after commit, and the sweep
(``lakeweb.jobs.services.jobs_sweep``) sends again what the broker never got
and re-queues what a lost worker held. Kind-specific rows (a promotion's
source and target, a snapshot's counts) link to their job.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"

    @classmethod
    def finished(cls) -> tuple[str, ...]:
        return (cls.SUCCEEDED, cls.FAILED, cls.CANCELLED)


class Job(models.Model):
    """One piece of long work: who asked, what it concerns, how far it got, how it ended."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64, help_text="Which body runs it (lakeweb.jobs.registry).")
    queue = models.CharField(max_length=32, default="default")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
    )
    parameters = models.JSONField(default=dict, blank=True)
    # The request that asked for it: its id is on the job's log lines on the worker.
    request_id = models.CharField(max_length=64, blank=True)
    # The object the work concerns (a dataset, a snapshot…), shown on its page.
    subject_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    # One live or succeeded job per key: a second click or a race cannot make a twin.
    unique_key = models.CharField(max_length=200, null=True, blank=True)

    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True, help_text="Timestamped lines, newest last.")
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    cancel_requested = models.BooleanField(default=False)
    # Which worker holds the job, until when; renewed while it works.
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When the message last reached the broker (null: never, the sweep sends it).
    sent_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry backoff.")

    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="job_recent_idx"),
            models.Index(fields=["kind", "-created_at"], name="job_kind_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="job_subject_idx"),
            # What the sweep reads: live jobs only.
            models.Index(
                fields=["status", "lease_expires_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="job_live_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unique_key"],
                condition=models.Q(unique_key__isnull=False)
                & ~models.Q(status__in=["failed", "cancelled"]),
                name="job_unique_live_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def kind_label(self) -> str:
        from .registry import kind_get

        try:
            return kind_get(self.kind).label
        except LookupError:
            return self.kind

    @property
    def is_finished(self) -> bool:
        return self.status in JobStatus.finished()

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))
