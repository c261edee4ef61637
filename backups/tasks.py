"""Backup tasks: thin wrappers that call one service.

A backup itself is a job (``backups/jobs.py``), run by the job runner's task.
"""

from __future__ import annotations

from celery import shared_task

from .fixity import FIXITY_KIND
from .fixity_status import fixity_request
from .reconcile import RECONCILE_KIND
from .services import backup_request, retention_request
from .services.drill import drill_request


@shared_task(time_limit=60, soft_time_limit=50)
def backup_scheduled_task(kind: str) -> str:
    """Entry point for django-celery-beat's daily and weekly schedules."""
    return str(backup_request(kind=kind, user=None).job_id)


@shared_task(time_limit=60, soft_time_limit=50)
def retention_scheduled_task() -> str:
    """Entry point for django-celery-beat's daily retention and garbage collection."""
    job = retention_request()
    return str(job.pk) if job is not None else "already queued"


@shared_task(time_limit=60, soft_time_limit=50)
def fixity_scheduled_task() -> str:
    """Entry point for beat's fixity schedule: queue one batch (none if one is live)."""
    return str(fixity_request(kind=FIXITY_KIND, user=None).pk)


@shared_task(time_limit=60, soft_time_limit=50)
def reconcile_scheduled_task() -> str:
    """Entry point for beat's reconciliation schedule."""
    return str(fixity_request(kind=RECONCILE_KIND, user=None).pk)


@shared_task(time_limit=60, soft_time_limit=50)
def drill_scheduled_task() -> str:
    """Entry point for beat's weekly restore drill (none queued if one is live)."""
    return str(drill_request(user=None).job_id)
