"""Resumable, chunked uploads: the protocol the upload page speaks.

1. ``upload_session_start`` validates the whole upload (metadata, every path
   and size) before anything is stored, then creates the hidden dataset and
   one :class:`UploadFile` per file.
2. ``upload_chunk_write`` takes the chunk at a file's current offset. Chunks
   of one file come in order; files go in parallel. A chunk goes straight to
   storage (an S3 multipart part, or written in place in a staging file), so
   the server holds at most one chunk per request in memory and never keeps a
   second copy on disk.
3. ``upload_session_finish`` seals the dataset once every file is complete.

Whole-file SHA-256: S3 multipart checksums are per part, so lakeweb hashes
the bytes itself as they stream through, in order. The hash state after each
chunk is saved on the UploadFile row (``lakeweb.hashing``: hashlib's state
cannot be saved, OpenSSL's can), so an upload resumes where it stopped even
after a server restart. A file of one chunk is hashed with hashlib directly.

Concurrency: a chunk is accepted only at the offset the row says; the row is
advanced with a compare-and-set on ``received``, so two copies of the same
chunk (a client retry) store the same bytes and only one advances the file.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lakeweb.hashing import ResumableSHA256
from lakeweb.storage import StorageError, StoredObject, layer_store

from ..models import Dataset, DatasetStatus, UploadFile
from .datasets import dataset_fail, dataset_storage_key
from .errors import ActionRefused, PermissionRefused
from .paths import clean_paths
from .upload import (
    DatasetDraft,
    datafile_record,
    dataset_upload_finish,
    dataset_upload_start,
    guess_content_type,
)

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
S3_MAX_PARTS = 10_000
MAX_FILE_SIZE = 5 * 1024**4  # S3's limit for one object
BATCH_MAX_FILES = 500


class UploadClosed(ActionRefused):
    """The upload was finished, cancelled or cleaned away."""


class ChunkConflict(ActionRefused):
    """The chunk is not at the file's current offset; ``received`` says where it is."""

    def __init__(self, message: str, *, received: int) -> None:
        super().__init__(message)
        self.received = received


@dataclass(frozen=True)
class PlannedFile:
    path: str
    size: int


def chunk_size_for(size: int) -> int:
    """The configured chunk size, grown in whole MiB so a file needs at most 10,000 parts."""
    chunk = settings.UPLOAD_CHUNK_SIZE
    if size > chunk * S3_MAX_PARTS:
        chunk = -(-size // S3_MAX_PARTS // MIB) * MIB + MIB
    return chunk


def _planned(files: Sequence[PlannedFile]) -> list[PlannedFile]:
    paths = clean_paths([f.path for f in files])
    errors = [
        f"'{f.path}' has an impossible size ({f.size})."
        for f in files
        if not isinstance(f.size, int)
        or isinstance(f.size, bool)
        or not 0 <= f.size <= MAX_FILE_SIZE
    ]
    if errors:
        raise ValidationError(errors)
    return [PlannedFile(path=path, size=f.size) for path, f in zip(paths, files, strict=True)]


def upload_session_start(*, draft: DatasetDraft, files: Sequence[PlannedFile]) -> Dataset:
    """Validate an upload in full and create its hidden dataset; nothing stored on error."""
    planned = _planned(files)
    with transaction.atomic():
        dataset = dataset_upload_start(draft=draft)
        UploadFile.objects.bulk_create(
            UploadFile(
                dataset=dataset,
                path=f.path,
                size=f.size,
                chunk_size=chunk_size_for(f.size),
                storage_key=dataset_storage_key(dataset=dataset, path=f.path),
                content_type=guess_content_type(f.path),
            )
            for f in planned
        )
    return dataset


def upload_session_get(*, dataset_id: Any, user: AbstractBaseUser) -> Dataset:
    """An unfinished upload of this user, or a refusal that says why."""
    try:
        dataset = Dataset.objects.get(pk=dataset_id)
    except (Dataset.DoesNotExist, ValidationError):
        raise ActionRefused("No such upload.") from None
    if dataset.owner_id != user.pk:
        raise PermissionRefused("This upload belongs to another user.")
    if dataset.status != DatasetStatus.UPLOADING:
        raise UploadClosed(f"This upload is no longer open (the dataset is {dataset.status}).")
    return dataset


def _read_exactly(stream: IO[bytes], length: int) -> bytes:
    pieces, got = [], 0
    while got < length:
        piece = stream.read(min(4 * MIB, length - got))
        if not piece:
            raise ActionRefused(f"The chunk ended after {got} of {length} bytes.")
        pieces.append(piece)
        got += len(piece)
    return b"".join(pieces)


def _check_chunk(upload: UploadFile, *, offset: int, length: int) -> None:
    if upload.completed:
        raise ChunkConflict(f"'{upload.path}' is already complete.", received=upload.received)
    if offset != upload.received:
        raise ChunkConflict(
            f"'{upload.path}' continues at byte {upload.received}, not {offset}.",
            received=upload.received,
        )
    expected = min(upload.chunk_size, upload.size - offset)
    if length != expected:
        raise ActionRefused(
            f"The chunk of '{upload.path}' at byte {offset} must be {expected} bytes, not {length}."
        )


def upload_chunk_write(
    *, dataset: Dataset, file_id: Any, offset: int, length: int, stream: IO[bytes]
) -> UploadFile:
    """Store the chunk of one file at ``offset``; completes the file on its last chunk."""
    try:
        upload = dataset.upload_files.get(pk=int(file_id))
    except (UploadFile.DoesNotExist, TypeError, ValueError):
        raise ActionRefused("This upload has no such file.") from None
    _check_chunk(upload, offset=offset, length=length)
    data = _read_exactly(stream, length)
    if upload.size <= upload.chunk_size:
        return _write_whole(dataset, upload, data)
    return _write_part(dataset, upload, offset, data)


def upload_batch_write(*, dataset: Dataset, items: dict[int, IO[bytes]]) -> list[UploadFile]:
    """Store several whole small files sent in one request (the page batches them).

    Small files are dominated by per-request cost, so the page sends them
    together; each is still checked, stored and recorded on its own.
    """
    if len(items) > BATCH_MAX_FILES:
        raise ActionRefused(f"A batch holds at most {BATCH_MAX_FILES} files.")
    uploads = dataset.upload_files.in_bulk(list(items))
    missing = sorted(set(items) - set(uploads))
    if missing:
        raise ActionRefused(f"This upload has no file {missing[0]}.")
    for file_id, upload in uploads.items():
        if upload.size > upload.chunk_size:
            raise ActionRefused(f"'{upload.path}' is too large for a batch; send it in chunks.")
        _check_chunk(upload, offset=0, length=_size(items[file_id]))
    return [
        _write_whole(dataset, uploads[i], _read_exactly(items[i], uploads[i].size)) for i in items
    ]


def _size(stream: IO[bytes]) -> int:
    return getattr(stream, "size", 0)


def _write_whole(dataset: Dataset, upload: UploadFile, data: bytes) -> UploadFile:
    store = layer_store(dataset.layer)
    stored = store.put_bytes(upload.storage_key, data, content_type=upload.content_type)
    return _advance(
        upload, offset=0, received=upload.size, parts=[], state=b"", sha256=stored.sha256
    )


def _write_part(dataset: Dataset, upload: UploadFile, offset: int, data: bytes) -> UploadFile:
    store = layer_store(dataset.layer)
    if not upload.storage_upload_id:
        upload_id = store.part_upload_begin(upload.storage_key, content_type=upload.content_type)
        claimed = UploadFile.objects.filter(pk=upload.pk, storage_upload_id="").update(
            storage_upload_id=upload_id
        )
        if not claimed:  # a concurrent retry of this chunk started one first
            store.part_upload_abort(upload.storage_key, upload_id)
        upload.refresh_from_db()
    hasher = (
        ResumableSHA256.from_state(upload.hash_state) if upload.hash_state else ResumableSHA256()
    )
    number = offset // upload.chunk_size + 1
    part = store.part_upload_write(
        upload.storage_key, upload.storage_upload_id, number=number, offset=offset, data=data
    )
    hasher.update(data)
    received = offset + len(data)
    parts = [*upload.parts, part]
    if received < upload.size:
        return _advance(upload, offset=offset, received=received, parts=parts, state=hasher.state())
    store.part_upload_complete(upload.storage_key, upload.storage_upload_id, parts)
    return _advance(
        upload, offset=offset, received=received, parts=parts, state=b"", sha256=hasher.hexdigest()
    )


@transaction.atomic
def _advance(
    upload: UploadFile,
    *,
    offset: int,
    received: int,
    parts: list[dict[str, Any]],
    state: bytes,
    sha256: str | None = None,
) -> UploadFile:
    """Compare-and-set the file's progress; record the DataFile when it is complete."""
    changed = UploadFile.objects.filter(pk=upload.pk, received=offset, completed=False).update(
        received=received,
        parts=parts,
        hash_state=state,
        completed=sha256 is not None,
        updated_at=timezone.now(),
    )
    if not changed:
        upload.refresh_from_db()
        raise ChunkConflict(f"'{upload.path}' moved on meanwhile.", received=upload.received)
    if sha256 is not None:
        stored = StoredObject(key=upload.storage_key, size=upload.size, sha256=sha256)
        datafile_record(
            dataset=upload.dataset,
            path=upload.path,
            stored=stored,
            content_type=upload.content_type,
        )
    upload.refresh_from_db()
    return upload


def upload_session_finish(*, dataset: Dataset, user: AbstractBaseUser) -> Dataset:
    """Seal the dataset when every file is stored and hashed; then it is visible."""
    missing = dataset.upload_files.filter(completed=False)
    count = missing.count()
    if count:
        first = missing.first()
        raise ActionRefused(
            f"{count} file(s) are not complete yet, e.g. '{first.path}' "
            f"({first.received} of {first.size} bytes)."
        )
    with transaction.atomic():
        dataset.upload_files.all().delete()
        return dataset_upload_finish(dataset=dataset, actor=user)


def upload_session_cancel(*, dataset: Dataset, reason: str = "Upload cancelled.") -> None:
    """Abort part uploads, remove what was stored, and mark the dataset failed."""
    store = layer_store(dataset.layer)
    for upload in dataset.upload_files.exclude(storage_upload_id="").filter(completed=False):
        store.part_upload_abort(upload.storage_key, upload.storage_upload_id)
    dataset_fail(dataset=dataset, reason=reason)
    dataset.upload_files.all().delete()


def uploads_abandoned_clean(*, older_than: datetime.timedelta) -> int:
    """Cancel uploads idle for longer than ``older_than`` and drop stray part uploads."""
    cutoff = timezone.now() - older_than
    idle = Dataset.objects.filter(status=DatasetStatus.UPLOADING, created_at__lt=cutoff).exclude(
        upload_files__updated_at__gte=cutoff
    )
    count = 0
    for dataset in idle:
        try:
            upload_session_cancel(
                dataset=dataset, reason="Upload abandoned: no data arrived for too long."
            )
            count += 1
        except StorageError:
            logger.exception("could not clean abandoned upload %s", dataset.pk)
    known = set(UploadFile.objects.values_list("storage_upload_id", flat=True))
    store = layer_store("raw")
    for key, upload_id in store.part_uploads_stale(before=cutoff):
        if upload_id not in known:
            store.part_upload_abort(key, upload_id)
    return count
