"""Catalog tasks: thin wrappers that take ids and call one service."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from lakeweb.storage import StorageError

from .services import promotion_fail, promotion_run


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
