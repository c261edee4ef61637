"""The archive's cold tier: objects in a storage class that must be restored to be read.

On S3 an object in GLACIER or DEEP_ARCHIVE answers GET with InvalidObjectState
until a RestoreObject makes a temporary copy readable for some days
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html).
The filesystem store plays the same part so the flow is testable without S3:
the cold class is a folder beside the layer's (``archive.cold/``), a restore
request writes a thaw note (``archive.thaw/<key>.json``) and the file reads
once ``ARCHIVE_FS_THAW_SECONDS`` have passed, until the note expires.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from .base import LayerStore, StorageError

if TYPE_CHECKING:
    from .filesystem import FilesystemLayerStore
    from .s3 import S3LayerStore

# The classes whose objects must be restored before a read; other classes
# (STANDARD_IA, GLACIER_IR…) read as they are and are not a cold tier.
COLD_CLASSES = ("GLACIER", "DEEP_ARCHIVE")
RESTORE_TIERS = ("Standard", "Bulk", "Expedited")
# x-amz-restore: ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"
_RESTORE_DONE = re.compile(r'ongoing-request="false"(?:,\s*expiry-date="([^"]+)")?')


@dataclass(frozen=True)
class Thaw:
    """Whether an object can be read now, and until when (None: no end)."""

    readable: bool
    expires_at: datetime.datetime | None = None


class ColdTier(ABC):
    """What a store does with objects of a cold class."""

    @abstractmethod
    def chill(self, key: str, storage_class: str) -> None:
        """Move a stored (and verified) object into ``storage_class``."""

    @abstractmethod
    def thaw_request(self, key: str, *, days: int, tier: str) -> None:
        """Ask for a readable copy for ``days``; asking again while one is coming is fine."""

    @abstractmethod
    def thaw_status(self, key: str) -> Thaw:
        """Whether the object reads now (a cold one only once thawed)."""


def cold_tier(store: LayerStore) -> ColdTier:
    """The cold-tier adapter of a layer store."""
    from .filesystem import FilesystemLayerStore

    if isinstance(store, FilesystemLayerStore):
        return FilesystemColdTier(store)
    return S3ColdTier(store)  # type: ignore[arg-type]


class S3ColdTier(ColdTier):
    def __init__(self, store: S3LayerStore) -> None:
        self.store = store

    def _call(self, what: str, key: str, call: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call(Bucket=self.store.bucket, Key=key, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "RestoreAlreadyInProgress":
                return None
            raise StorageError(f"could not {what} {key} in {self.store.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"could not {what} {key} in {self.store.bucket}: {exc}") from exc

    def chill(self, key: str, storage_class: str) -> None:
        # A copy onto itself that changes only the class: server-side, no bytes
        # move. The managed copy splits objects over 5 GiB (CopyObject's limit)
        # into a multipart copy.
        def copy(*, Bucket: str, Key: str) -> None:
            self.store.client.copy(
                {"Bucket": Bucket, "Key": Key},
                Bucket,
                Key,
                ExtraArgs={"StorageClass": storage_class, "MetadataDirective": "COPY"},
            )

        self._call("move to the cold class", key, copy)

    def thaw_request(self, key: str, *, days: int, tier: str) -> None:
        request = {"Days": days, "GlacierJobParameters": {"Tier": tier}}
        self._call("restore", key, self.store.client.restore_object, RestoreRequest=request)

    def thaw_status(self, key: str) -> Thaw:
        head = self._call("read the state of", key, self.store.client.head_object)
        if head.get("StorageClass") not in COLD_CLASSES:
            return Thaw(readable=True)
        done = _RESTORE_DONE.search(head.get("Restore") or "")
        if done is None:
            return Thaw(readable=False)
        expiry = email.utils.parsedate_to_datetime(done.group(1)) if done.group(1) else None
        return Thaw(readable=True, expires_at=expiry)


class FilesystemColdTier(ColdTier):
    def __init__(self, store: FilesystemLayerStore) -> None:
        self.store = store

    def chill(self, key: str, storage_class: str) -> None:
        warm, cold = self.store.root / key, cold_path(self.store, key)
        cold.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(warm, cold)
        except FileNotFoundError:
            if not cold.exists():  # moved by an earlier attempt: nothing to do
                raise StorageError(f"cannot move {key} to the cold folder: it is gone") from None
        except OSError as exc:
            raise StorageError(f"cannot move {key} to the cold folder: {exc}") from exc

    def thaw_request(self, key: str, *, days: int, tier: str) -> None:
        if not cold_path(self.store, key).exists():
            raise StorageError(f"{key} is not in the cold folder of {self.store.layer}")
        note = thaw_note_path(self.store, key)
        if _thaw_note(note) is not None:
            return  # a thaw already under way or done and not expired
        ready = timezone.now() + datetime.timedelta(seconds=settings.ARCHIVE_FS_THAW_SECONDS)
        times = {"ready_at": ready, "expires_at": ready + datetime.timedelta(days=days)}
        note.parent.mkdir(parents=True, exist_ok=True)
        partial = note.with_name(f".{note.name}.partial")
        partial.write_text(json.dumps({name: when.isoformat() for name, when in times.items()}))
        os.replace(partial, note)

    def thaw_status(self, key: str) -> Thaw:
        if (self.store.root / key).exists():
            return Thaw(readable=True)
        if not cold_path(self.store, key).exists():
            raise StorageError(f"{key} is not in {self.store.layer}")
        times = _thaw_note(thaw_note_path(self.store, key))
        if times is None or times["ready_at"] > timezone.now():
            return Thaw(readable=False)
        return Thaw(readable=True, expires_at=times["expires_at"])


def cold_root(store: FilesystemLayerStore) -> Path:
    """The cold class's folder, ``<layer>.cold/`` beside the layer's."""
    return store.root.with_name(f"{store.layer}.cold")


def thaw_root(store: FilesystemLayerStore) -> Path:
    return store.root.with_name(f"{store.layer}.thaw")


def cold_path(store: FilesystemLayerStore, key: str) -> Path:
    return cold_root(store) / key


def thaw_note_path(store: FilesystemLayerStore, key: str) -> Path:
    return thaw_root(store) / f"{key}.json"


def thawed_path(store: FilesystemLayerStore, key: str) -> Path | None:
    """The cold file of ``key`` if it is thawed now, else None."""
    path = cold_path(store, key)
    if not path.exists():
        return None
    status = FilesystemColdTier(store).thaw_status(key)
    return path if status.readable else None


def _thaw_note(note: Path) -> dict[str, datetime.datetime] | None:
    """The note's times if it exists and has not expired."""
    try:
        raw = json.loads(note.read_text())
        times = {name: datetime.datetime.fromisoformat(raw[name]) for name in raw}
    except (OSError, ValueError, KeyError):
        return None
    expires = times.get("expires_at")
    return times if expires is not None and expires > timezone.now() else None
