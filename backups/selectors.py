"""Backup reads."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask

from .models import BackupJob


def backup_jobs_recent(*, limit: int = 100) -> QuerySet[BackupJob]:
    return BackupJob.objects.select_related("job__requested_by").order_by("-job__created_at")[
        :limit
    ]


def backup_job_get(*, pk: UUID | str) -> BackupJob | None:
    """One backup job, or None."""
    return BackupJob.objects.select_related("job__requested_by").filter(pk=pk).first()


def backup_schedules() -> QuerySet[PeriodicTask]:
    """The enabled django-celery-beat schedules that run backups."""
    return PeriodicTask.objects.filter(
        task="backups.tasks.backup_scheduled_task", enabled=True
    ).select_related("crontab")
