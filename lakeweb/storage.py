"""Layer -> storage backend.

Each layer (raw, processed, curated, archive) is one bucket on S3 or one
folder on the embedded default. This module and the services are the only
code that talks to django-storages and boto3; everything else asks for a
:class:`LayerStore` with :func:`layer_store`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage
from django.core.signals import setting_changed
from django.dispatch import receiver

CHUNK_SIZE = 8 * 1024 * 1024
# A single CopyObject handles up to 5 GiB; larger objects need a multipart copy,
# whose checksum S3 reports per part, so those are verified by reading back.
S3_SINGLE_COPY_LIMIT = 5 * 1024**3


class StorageError(Exception):
    """The storage refused or failed an operation (network, permissions, lock)."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str


class HashingReader:
    """A read-only stream that hashes what passes through it (no extra copy)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        return data

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def stream_sha256(stream: IO[bytes]) -> tuple[int, str]:
    """Size and SHA-256 of a stream, read in chunks."""
    reader = HashingReader(stream)
    while reader.read(CHUNK_SIZE):
        pass
    return reader.size, reader.sha256


class LayerStore(ABC):
    """Objects of one layer, addressed by key (a POSIX path inside the layer)."""

    def __init__(self, layer: str, storage: Storage) -> None:
        self.layer = layer
        self.storage = storage

    @abstractmethod
    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        """Write a stream under ``key``, hashing it on the way."""

    @abstractmethod
    def copy_to(self, key: str, target: LayerStore, target_key: str) -> str | None:
        """Copy an object to another layer; return its SHA-256 when the copy told it."""

    @abstractmethod
    def download_url(self, key: str, *, filename: str) -> str | None:
        """A short-lived URL the browser can fetch directly, or None to stream."""

    @abstractmethod
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under a prefix."""

    @abstractmethod
    def ensure(self) -> None:
        """Create the bucket or folder with this layer's protections."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError when the layer cannot be reached."""

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.storage.open(key, "rb")
        except OSError as exc:  # FileNotFoundError, and S3File's "does not exist"
            raise StorageError(f"cannot read {key} in {self.layer}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.storage.exists(key)

    def delete(self, key: str) -> None:
        self.storage.delete(key)

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "") -> StoredObject:
        return self.save(key, io.BytesIO(data), content_type=content_type)

    def sha256(self, key: str) -> tuple[int, str]:
        """Size and SHA-256 read back from storage."""
        with self.open(key) as stream:
            return stream_sha256(stream)

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix))
        for key in keys:
            self.delete(key)
        return len(keys)


class FilesystemLayerStore(LayerStore):
    """The embedded default: one folder per layer."""

    def __init__(self, layer: str, root: Path) -> None:
        self.root = root / layer
        super().__init__(layer, FileSystemStorage(location=self.root))

    def _path(self, key: str) -> Path:
        return Path(self.storage.path(key))

    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        reader = HashingReader(stream)
        try:
            with open(partial, "wb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f"could not write {key} in {self.layer}: {exc}") from exc
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def copy_to(self, key: str, target: LayerStore, target_key: str) -> str | None:
        with self.open(key) as stream:
            return target.save(target_key, stream).sha256

    def download_url(self, key: str, *, filename: str) -> str | None:
        return None

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".partial"):
                yield path.relative_to(self.root).as_posix()

    def delete_prefix(self, prefix: str) -> int:
        count = super().delete_prefix(prefix)
        shutil.rmtree(self._path(prefix), ignore_errors=True)
        return count

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root.name} folder is missing or not writable")


class S3LayerStore(LayerStore):
    """One bucket per layer on S3 or any S3-compatible store (MinIO)."""

    def __init__(self, layer: str, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(layer, self._storage(settings.S3_ENDPOINT_URL))
        # Browsers may reach the store at another address than the servers
        # do (compose: "minio:9000" inside, a public name outside).
        public = settings.S3_PUBLIC_ENDPOINT_URL
        self.public_storage = self._storage(public) if public else self.storage

    def _storage(self, endpoint_url: str | None) -> Storage:
        from storages.backends.s3 import S3Storage

        return S3Storage(
            bucket_name=self.bucket,
            endpoint_url=endpoint_url,
            region_name=settings.S3_REGION,
            access_key=settings.S3_ACCESS_KEY_ID,
            secret_key=settings.S3_SECRET_ACCESS_KEY,
            addressing_style=settings.S3_ADDRESSING_STYLE,
            signature_version="s3v4",
            file_overwrite=True,
            querystring_expire=settings.S3_PRESIGNED_URL_SECONDS,
            default_acl=None,
        )

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        from botocore.exceptions import BotoCoreError, ClientError

        reader = HashingReader(stream)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            # A non-seekable reader makes s3transfer read it once, in order,
            # so the hash covers exactly the bytes sent.
            self.client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs=extra, Config=self.storage.transfer_config
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not write {key} to {self.bucket}: {exc}") from exc
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def copy_to(self, key: str, target: LayerStore, target_key: str) -> str | None:
        if not isinstance(target, S3LayerStore):
            with self.open(key) as stream:
                return target.save(target_key, stream).sha256
        from botocore.exceptions import BotoCoreError, ClientError

        source = {"Bucket": self.bucket, "Key": key}
        try:
            size = self.client.head_object(**source)["ContentLength"]
            if size > S3_SINGLE_COPY_LIMIT:
                self.client.copy(source, target.bucket, target_key)
                return None
            # Server-side copy: no bytes through lakeweb; S3 computes the
            # SHA-256 of the new object and returns it.
            result = self.client.copy_object(
                CopySource=source, Bucket=target.bucket, Key=target_key, ChecksumAlgorithm="SHA256"
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not copy {key} to {target.bucket}: {exc}") from exc
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        return base64.b64decode(checksum).hex() if checksum else None

    def download_url(self, key: str, *, filename: str) -> str | None:
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return self.public_storage.url(key, parameters={"ResponseContentDisposition": disposition})

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def ensure(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
            exists = True
        except ClientError:
            exists = False
        if not exists:
            self._create_bucket()
        if self.layer == "archive":
            self._put_archive_lifecycle()

    def _create_bucket(self) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        if settings.S3_REGION != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
        if self.layer == "raw":
            args["ObjectLockEnabledForBucket"] = True
        self.client.create_bucket(**args)
        if self.layer == "raw":
            self.client.put_object_lock_configuration(
                Bucket=self.bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {
                        "DefaultRetention": {
                            "Mode": settings.RAW_RETENTION_MODE,
                            "Days": settings.RAW_RETENTION_DAYS,
                        }
                    },
                },
            )

    def _put_archive_lifecycle(self) -> None:
        days = settings.ARCHIVE_LIFECYCLE_DAYS
        if settings.ARCHIVE_STORAGE_CLASS:
            rule = {
                "ID": "lakeweb-archive-cold",
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "Transitions": [{"Days": days, "StorageClass": settings.ARCHIVE_STORAGE_CLASS}],
            }
        else:
            # Without a cold class, old backup snapshots age out; archived
            # datasets themselves are never expired.
            rule = {
                "ID": "lakeweb-archive-backups",
                "Filter": {"Prefix": "backups/"},
                "Status": "Enabled",
                "Expiration": {"Days": days},
            }
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [rule]}
        )

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} unreachable: {exc}") from exc


@cache
def layer_store(layer: str) -> LayerStore:
    """The store of one layer, as configured in settings."""
    if layer not in settings.LAKEWEB_LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    if settings.LAKEWEB_STORAGE == "s3":
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
