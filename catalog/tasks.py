"""Catalog tasks: thin wrappers that call one service.

Promotions and registrations are jobs (``catalog/jobs.py``), run by the job
runner's own task.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.conf import settings

from .services import cold_restores_watch, uploads_abandoned_clean


@shared_task(time_limit=1800, soft_time_limit=1740)
def uploads_abandoned_clean_task() -> int:
    """Hourly (django-celery-beat): remove uploads idle for UPLOAD_ABANDON_HOURS."""
    return uploads_abandoned_clean(
        older_than=datetime.timedelta(hours=settings.UPLOAD_ABANDON_HOURS)
    )


@shared_task(name="catalog.cold_restores_watch", time_limit=600, soft_time_limit=540)
def cold_restores_watch_task() -> dict[str, int]:
    """Every ARCHIVE_RESTORE_CHECK_SECONDS (beat): count thawed files, notify, expire."""
    return cold_restores_watch()
