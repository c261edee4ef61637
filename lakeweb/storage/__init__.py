"""Layer -> storage backend.

Each layer (raw, processed, curated, archive) is one bucket on S3 or one
folder on the embedded default. This package and the services are the only
code that talks to django-storages and boto3; everything else asks for a
:class:`LayerStore` with :func:`layer_store`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from .base import (
    CHUNK_SIZE,
    HashingReader,
    LayerStore,
    ListedObject,
    ObjectMissing,
    StorageError,
    StoredObject,
    stream_sha256,
)
from .filesystem import FilesystemLayerStore

__all__ = [
    "CHUNK_SIZE",
    "HashingReader",
    "LayerStore",
    "ListedObject",
    "ObjectMissing",
    "StorageError",
    "StoredObject",
    "layer_store",
    "layers_ensure",
    "stream_sha256",
]


@cache
def layer_store(layer: str) -> LayerStore:
    """The store of one layer, as configured in settings."""
    if layer not in settings.LAKEWEB_LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    if settings.LAKEWEB_STORAGE == "s3":
        from .s3 import S3LayerStore  # boto3 is imported only when S3 is used

        return S3LayerStore(layer, settings.S3_BUCKETS[layer])
    return FilesystemLayerStore(layer, Path(settings.LAKEWEB_STORAGE_DIR))


def layers_ensure() -> list[str]:
    """Create every layer's bucket or folder; return what was ensured."""
    done = []
    for layer in settings.LAKEWEB_LAYERS:
        store = layer_store(layer)
        store.ensure()
        done.append(getattr(store, "bucket", str(getattr(store, "root", layer))))
    return done


@receiver(setting_changed)
def _forget_stores(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(("LAKEWEB_STORAGE", "S3_", "RAW_", "ARCHIVE_")):
        layer_store.cache_clear()
