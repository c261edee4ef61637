"""What every layer store does, whatever holds the bytes."""

from __future__ import annotations

import datetime
import hashlib
import io
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.core.files.storage import Storage

CHUNK_SIZE = 8 * 1024 * 1024


class StorageError(Exception):
    """The storage refused or failed an operation (network, permissions, lock)."""


class ObjectMissing(StorageError):
    """The object (or the version asked for) is not in the store."""


class ObjectConflict(StorageError):
    """A write-once key already holds other bytes than the ones being written."""

    def __init__(self, key: str, layer: str) -> None:
        super().__init__(f"{key} in {layer} already holds other bytes")
        self.key = key


class PartUploadGone(StorageError):
    """The part upload is closed: an earlier request completed its object.

    ``part`` describes the part that was to be stored (its number and
    checksum or size), so the object can be checked against it.
    """

    def __init__(self, message: str, *, part: dict[str, Any]) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    sha256: str
    # The store's id of the version written (S3 on a versioned bucket, such
    # as Object-Locked raw); None where the store keeps no versions. Reads
    # name it, so a later write over the key changes nothing lakeweb serves.
    version_id: str | None = None


@dataclass(frozen=True)
class ListedObject:
    """One object found by listing a store: its key, size and last write."""

    key: str
    size: int
    modified: datetime.datetime


@dataclass(frozen=True)
class Copied:
    """What a copy made: its SHA-256 when the store told it, and its version id."""

    sha256: str | None
    version_id: str | None = None


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


class PartWriter(ABC):
    """One part of a part upload, written piece by piece as its bytes arrive.

    ``finish`` returns once the part is stored for good (on disk, or in the
    bucket) with what completing the object needs; ``close`` releases what the
    writer holds, whether or not it finished.
    """

    def __init__(self, length: int) -> None:
        self.length = length
        self.written = 0

    def write(self, piece: bytes) -> None:
        if self.written + len(piece) > self.length:
            raise StorageError(f"a part of {self.length} bytes was given more")
        self._write(piece, self.written)
        self.written += len(piece)

    def finish(self) -> dict[str, Any]:
        if self.written != self.length:
            raise StorageError(f"a part of {self.length} bytes was given {self.written}")
        return self._finish()

    @abstractmethod
    def _write(self, piece: bytes, at: int) -> None:
        """Store ``piece`` at byte ``at`` of the part."""

    @abstractmethod
    def _finish(self) -> dict[str, Any]:
        """Store the part for good; return what completing the object needs."""

    @abstractmethod
    def close(self) -> None:
        """Release what the writer holds (a file, a buffer)."""

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LayerStore(ABC):
    """Objects of one layer, addressed by key (a POSIX path inside the layer)."""

    # The chunk size of browser uploads, unless UPLOAD_CHUNK_SIZE says
    # otherwise. A part may be held in memory while it is stored, so 8 MiB.
    upload_chunk_size = 8 * 1024 * 1024
    # What the store can hold, in UTF-8 bytes: a whole key, one folder of a
    # key, and a file's own name (the last part of a key). Uploads check them
    # up front (catalog.services.paths), so a name the store cannot hold is
    # refused with a message instead of failing when its bytes arrive.
    max_key_bytes = 1024
    max_folder_name_bytes = 1024
    max_file_name_bytes = 1024
    # How messages about these limits name the store.
    kind = "storage"

    def __init__(self, layer: str, storage: Storage) -> None:
        self.layer = layer
        self.storage = storage

    @abstractmethod
    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        """Write a stream under ``key``, hashing it on the way."""

    @abstractmethod
    def copy_to(
        self,
        key: str,
        target: LayerStore,
        target_key: str,
        *,
        size: int | None = None,
        version_id: str | None = None,
    ) -> Copied:
        """Copy an object (``version_id``: that version) to another layer.

        ``size``, when the caller knows it, spares a store asking for it.
        """

    @abstractmethod
    def download_url(self, key: str, *, filename: str, version_id: str | None = None) -> str | None:
        """A short-lived URL the browser can fetch directly, or None to stream."""

    @abstractmethod
    def list_keys(self, prefix: str) -> Iterator[str]:
        """Every key under a prefix."""

    def list_objects(self, prefix: str = "") -> Iterator[ListedObject]:
        """Every object under a prefix with its size and time, in UTF-8 byte order of keys.

        The order is S3's (ListObjectsV2), so a listing can be merged with
        rows read in the same order (reconciliation) without holding either.
        """
        raise NotImplementedError

    @abstractmethod
    def ensure(self) -> None:
        """Create the bucket or folder with this layer's protections."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError when the layer cannot be reached."""

    # Part uploads: an object written in numbered parts that stays invisible
    # until completed (S3 multipart uploads; a hidden staging file on disk).

    @abstractmethod
    def part_upload_begin(self, key: str, *, content_type: str = "") -> str:
        """Start a part upload; return its id."""

    @abstractmethod
    def part_writer(
        self, key: str, upload_id: str, *, number: int, offset: int, length: int
    ) -> PartWriter:
        """A writer for part ``number`` (1-based), ``length`` bytes at ``offset``."""

    @abstractmethod
    def part_upload_complete(
        self,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        *,
        expected: StoredObject | None = None,
    ) -> str | None:
        """Make the object visible from its parts, once; return its version id (or None).

        If an earlier request completed it already (and failed before the
        catalog recorded it), the object is checked against ``expected`` (and
        the parts' checksums): the same bytes are success, others (or no
        ``expected`` to compare with) an :class:`ObjectConflict`.
        """

    @abstractmethod
    def part_upload_abort(self, key: str, upload_id: str) -> None:
        """Drop an unfinished part upload and its parts."""

    @abstractmethod
    def part_uploads_stale(self, *, before: datetime.datetime) -> list[tuple[str, str]]:
        """(key, upload id) of part uploads started before ``before``."""

    def open(self, key: str, *, version_id: str | None = None) -> IO[bytes]:
        """The object's bytes (``version_id``: that version; stores without versions have one)."""
        try:
            return self.storage.open(key, "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(f"{key} is not in {self.layer}") from exc
        except OSError as exc:  # FileNotFoundError, and S3File's "does not exist"
            raise StorageError(f"cannot read {key} in {self.layer}: {exc}") from exc

    def current_version(self, key: str) -> str | None:
        """The version a plain read of ``key`` gets now; None where the store keeps none."""
        return None

    def exists(self, key: str) -> bool:
        return self.storage.exists(key)

    def delete(self, key: str) -> None:
        self.storage.delete(key)

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = "", exclusive: bool = False
    ) -> StoredObject:
        """Store ``data`` under ``key``.

        ``exclusive``: never over an object already there. If one is (a
        retried request), it is checked: the same bytes are success, others an
        :class:`ObjectConflict`. Stores override this with an atomic
        create-if-absent; this generic fallback checks, then writes, so two
        concurrent requests for one key could both write.
        """
        if exclusive and self.exists(key):
            return self.verify_existing(_expected(key, data))
        return self.save(key, io.BytesIO(data), content_type=content_type)

    def put_many(
        self, objects: list[tuple[str, bytes, str]], *, exclusive: bool = False
    ) -> list[StoredObject]:
        """Store several small objects: (key, bytes, content type) each."""
        return [
            self.put_bytes(key, data, content_type=kind, exclusive=exclusive)
            for key, data, kind in objects
        ]

    def verify_existing(
        self, expected: StoredObject, *, parts: list[dict[str, Any]] | None = None
    ) -> StoredObject:
        """Accept the object an earlier request stored if it is ``expected``; else ObjectConflict.

        Read back and hashed here; stores that keep checksums compare those
        first (``parts``: what completing a part upload was given).
        """
        if not self.exists(expected.key):
            raise StorageError(f"{expected.key} is not in {self.layer}")
        found = self.sha256(expected.key, version_id=expected.version_id)
        if found != (expected.size, expected.sha256):
            raise ObjectConflict(expected.key, self.layer)
        return expected

    def sha256(self, key: str, *, version_id: str | None = None) -> tuple[int, str]:
        """Size and SHA-256 read back from storage."""
        with self.open(key, version_id=version_id) as stream:
            return stream_sha256(stream)

    def sealed_sha256(self, key: str, *, version_id: str | None) -> tuple[int, str, str | None]:
        """Size and SHA-256 of the sealed version read back, and the version a plain read of
        ``key`` gets now (None where the store keeps none, or no version was sealed).

        ObjectMissing: the sealed version is not there. A current version that
        cannot be read is a StorageError of another kind.
        """
        size, digest = self.sha256(key, version_id=version_id)
        if not version_id:
            return size, digest, None
        try:
            return size, digest, self.current_version(key)
        except ObjectMissing as exc:
            raise StorageError(f"{key}: no current version to compare with: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self.list_keys(prefix))
        for key in keys:
            self.delete(key)
        return len(keys)


def unknown_object(key: str) -> StoredObject:
    """What a write expects when it has nothing to compare with: any object found conflicts."""
    return StoredObject(key=key, size=-1, sha256="")


def _expected(key: str, data: bytes) -> StoredObject:
    return StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
