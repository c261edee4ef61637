"""Catalog tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

import datetime
from typing import Any

from celery import Task, shared_task
from django.conf import settings

from lakeweb.storage import StorageError

from .services import (
    dataset_register_fail,
    dataset_register_run,
    promotion_fail,
    promotion_run,
    uploads_abandoned_clean,
)


class PromotionTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        promotion_id = kwargs.get("promotion_id") or args[0]
        promotion_fail(promotion_id=promotion_id, reason=f"{type(exc).__name__}: {exc}")


# Work that must not be lost and that a storage outage only delays: acked when
# done, redelivered if the worker dies, retried with backoff on storage errors.
# A redelivery finds the work done so far and goes on from there.
DURABLE = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (StorageError, ConnectionError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "max_retries": 5,
}


@shared_task(base=PromotionTask, **DURABLE)
def promotion_run_task(promotion_id: str) -> None:
    promotion_run(promotion_id=promotion_id)


class DatasetRegisterTask(Task):
    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        dataset_id = kwargs.get("dataset_id") or args[0]
        prefix = kwargs.get("prefix") or args[1]
        dataset_register_fail(dataset_id=dataset_id, prefix=prefix, error=exc)


@shared_task(base=DatasetRegisterTask, **DURABLE)
def dataset_register_task(dataset_id: str, prefix: str) -> None:
    """Copy a prefix registered through the API into its dataset and seal it."""
    dataset_register_run(dataset_id=dataset_id, prefix=prefix)


@shared_task
def uploads_abandoned_clean_task() -> int:
    """Hourly (django-celery-beat): remove uploads idle for UPLOAD_ABANDON_HOURS."""
    return uploads_abandoned_clean(
        older_than=datetime.timedelta(hours=settings.UPLOAD_ABANDON_HOURS)
    )
