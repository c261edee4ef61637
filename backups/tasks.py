"""Backup tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from .models import BackupJob
from .services import backup_fail, backup_run


class BackupTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        job_id = kwargs.get("job_id") or args[0]
        backup_fail(job_id=job_id, reason=f"{type(exc).__name__}: {exc}")


@shared_task(
    base=BackupTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=30,
    max_retries=3,
)
def backup_run_task(job_id: str) -> None:
    backup_run(job_id=job_id)


@shared_task
def backup_scheduled_task(kind: str) -> str:
    """Entry point for django-celery-beat's daily and weekly schedules."""
    job = BackupJob.objects.create(kind=kind)
    backup_run_task.delay(str(job.pk))
    return str(job.pk)
