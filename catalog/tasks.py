"""Catalog tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

import datetime
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from lakeweb.storage import StorageError

from .services import promotion_fail, promotion_run, uploads_abandoned_clean


class PromotionTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        promotion_id = kwargs.get("promotion_id") or args[0]
        promotion_fail(promotion_id=promotion_id, reason=f"{type(exc).__name__}: {exc}")


@shared_task(
    base=PromotionTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(StorageError, ConnectionError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def promotion_run_task(promotion_id: str) -> None:
    promotion_run(promotion_id=promotion_id)


@shared_task
def uploads_abandoned_clean_task() -> int:
    """Hourly (django-celery-beat): remove uploads idle for UPLOAD_ABANDON_HOURS."""
    return uploads_abandoned_clean(
        older_than=datetime.timedelta(hours=settings.UPLOAD_ABANDON_HOURS)
    )
