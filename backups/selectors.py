"""Backup reads."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django_celery_beat.models import PeriodicTask

from lakeweb.jobs.models import Job

from .models import BackupJob, Drill


def backup_jobs_recent(*, limit: int = 100) -> QuerySet[BackupJob]:
    return BackupJob.objects.select_related("job__requested_by").order_by("-job__created_at")[
        :limit
    ]


def backup_job_get(*, pk: UUID | str) -> BackupJob | None:
    """One backup job, or None."""
    return BackupJob.objects.select_related("job__requested_by").filter(pk=pk).first()


def backup_schedules() -> QuerySet[PeriodicTask]:
    """The enabled django-celery-beat schedules that run backups, retention and drills."""
    tasks = [
        "backups.tasks.backup_scheduled_task",
        "backups.tasks.retention_scheduled_task",
        "backups.tasks.drill_scheduled_task",
    ]
    return PeriodicTask.objects.filter(task__in=tasks, enabled=True).select_related("crontab")


def restore_jobs_recent(*, limit: int = 20) -> QuerySet[Job]:
    """The latest restores and retention passes, newest first (one query)."""
    kinds = ["restore", "backup_retention"]
    return Job.objects.filter(kind__in=kinds).select_related("requested_by")[:limit]


def drill_last() -> Drill | None:
    """The newest restore drill with its job (one query), or None."""
    return Drill.objects.select_related("job__requested_by").order_by("-job__created_at").first()


def restore_job_get(*, pk: UUID | str) -> Job | None:
    """One restore job, or None."""
    return Job.objects.select_related("requested_by").filter(pk=pk, kind="restore").first()
