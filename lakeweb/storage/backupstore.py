"""The backup store: where snapshots go, apart from the layers they protect (issue 12).

A folder (``BACKUP_DIR``, by default ``var/backups/`` beside ``var/storage/``)
or a bucket of its own (``BACKUP_S3_BUCKET``), possibly on another endpoint
with other credentials. It is one more :class:`LayerStore`, named
``backups``: snapshots read and write it like any layer.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .base import LayerStore
from .filesystem import FilesystemLayerStore

BACKUPS = "backups"


def backup_storage_kind() -> str:
    """``filesystem`` or ``s3``: BACKUP_STORAGE, or the layers' kind when it is empty."""
    return settings.BACKUP_STORAGE or settings.LAKEWEB_STORAGE


@cache
def backup_store() -> LayerStore:
    """The backup store, as configured in settings."""
    if backup_storage_kind() == "s3":
        from .s3 import S3LayerStore
        from .s3client import S3Endpoint

        endpoint = S3Endpoint(
            url=settings.BACKUP_S3_ENDPOINT_URL or settings.S3_ENDPOINT_URL,
            region=settings.BACKUP_S3_REGION or settings.S3_REGION,
            access_key=settings.BACKUP_S3_ACCESS_KEY_ID or settings.S3_ACCESS_KEY_ID,
            secret_key=settings.BACKUP_S3_SECRET_ACCESS_KEY or settings.S3_SECRET_ACCESS_KEY,
        )
        return S3LayerStore(BACKUPS, settings.BACKUP_S3_BUCKET, endpoint=endpoint)
    folder = Path(settings.BACKUP_DIR)
    return FilesystemLayerStore(BACKUPS, folder.parent, folder=folder)


@receiver(setting_changed)
def _forget_store(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("BACKUP_", "LAKEWEB_STORAGE", "S3_")):
        backup_store.cache_clear()
