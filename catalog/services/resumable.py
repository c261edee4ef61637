"""Resumable, chunked uploads: the sessions of the protocol the upload page speaks.

1. ``upload_session_start`` validates the whole upload (metadata, every path
   and size) before anything is stored, then creates the hidden dataset and
   one :class:`UploadFile` per file.
2. The chunks go through ``chunks.upload_chunk_write`` / ``upload_batch_write``
   straight to storage (an S3 multipart part, or written in place in a staging
   file), hashed a piece at a time as they arrive: a request holds one piece
   (on S3, the part it gathers) and never keeps a second copy on disk.
3. ``upload_session_finish`` seals the dataset once every file is complete;
   ``upload_session_cancel`` and the periodic ``uploads_abandoned_clean``
   remove what an unfinished upload stored.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lakeweb.db import rows_insert
from lakeweb.errors import ActionRefused, NotFound, PermissionRefused, UploadClosed
from lakeweb.storage import StorageError, layer_store

from ..models import Dataset, DatasetStatus, Layer, UploadFile, UploadPart
from .datasets import dataset_fail, dataset_storage_key
from .paths import MAX_PROBLEMS_SHOWN, clean_paths, file_count_check
from .upload import (
    DatasetDraft,
    dataset_upload_finish,
    dataset_upload_start,
    guess_content_type,
)

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
S3_MAX_PARTS = 10_000
MAX_FILE_SIZE = 5 * 1024**4  # S3's limit for one object
UPLOAD_LAYERS = (Layer.RAW, Layer.PROCESSED, Layer.CURATED)


@dataclass(frozen=True)
class PlannedFile:
    path: str
    size: int


def chunk_size_for(size: int, *, layer: str) -> int:
    """The chunk size for a file, grown in whole MiB so it needs at most 10,000 parts.

    UPLOAD_CHUNK_SIZE when set, else the size the layer's store works best with.
    """
    chunk = settings.UPLOAD_CHUNK_SIZE or layer_store(layer).upload_chunk_size
    if size > chunk * S3_MAX_PARTS:
        chunk = -(-size // S3_MAX_PARTS // MIB) * MIB + MIB
    return chunk


def upload_files_check(*, files: Sequence[PlannedFile]) -> list[PlannedFile]:
    """Every problem of an upload's file list in one ValidationError; the files as stored.

    The page calls it when the metadata is refused too, so that one answer
    lists every problem (metadata and names), not one kind per round.
    """
    file_count_check(len(files))
    paths = clean_paths([f.path for f in files])
    errors = [
        f"'{path}' has an impossible size ({str(f.size)[:40]})."
        for path, f in zip(paths, files, strict=True)
        if not isinstance(f.size, int)
        or isinstance(f.size, bool)
        or not 0 <= f.size <= MAX_FILE_SIZE
    ]
    if errors:
        raise ValidationError(errors[:MAX_PROBLEMS_SHOWN])
    return [PlannedFile(path=path, size=f.size) for path, f in zip(paths, files, strict=True)]


def upload_session_start(*, draft: DatasetDraft, files: Sequence[PlannedFile]) -> Dataset:
    """Validate an upload in full and create its hidden dataset; nothing stored on error."""
    planned = upload_files_check(files=files)
    with transaction.atomic():
        dataset = dataset_upload_start(draft=draft)
        rows_insert(
            UploadFile,
            ("path", "size", "chunk_size", "storage_key", "content_type"),
            (
                (
                    f.path,
                    f.size,
                    chunk_size_for(f.size, layer=dataset.layer),
                    dataset_storage_key(dataset=dataset, path=f.path),
                    guess_content_type(f.path),
                )
                for f in planned
            ),
            constants={
                "dataset": dataset.pk,
                "received": 0,
                "hash_state": b"",
                "storage_upload_id": "",
                "completed": False,
                "updated_at": timezone.now(),
            },
        )
    return dataset


def upload_session_get(*, dataset_id: Any, user: User) -> Dataset:
    """An unfinished upload of this user, or a refusal that says why."""
    try:
        dataset = Dataset.objects.get(pk=dataset_id)
    except (Dataset.DoesNotExist, ValidationError):
        raise NotFound("No such upload.") from None
    if dataset.owner_id != user.pk:
        raise PermissionRefused("This upload belongs to another user.")
    if dataset.status != DatasetStatus.UPLOADING:
        raise UploadClosed(f"This upload is no longer open (the dataset is {dataset.status}).")
    return dataset


def upload_session_finish(*, dataset: Dataset, user: User) -> Dataset:
    """Seal the dataset when every file is stored and hashed; then it is visible."""
    missing = dataset.upload_files.filter(completed=False)
    count = missing.count()
    if count:
        first = cast(UploadFile, missing.first())  # count > 0
        raise ActionRefused(
            f"{count} file(s) are not complete yet, e.g. '{first.path}' "
            f"({first.received} of {first.size} bytes)."
        )
    with transaction.atomic():
        _upload_rows_delete(dataset)
        return dataset_upload_finish(dataset=dataset, actor=user)


def upload_session_cancel(*, dataset: Dataset, reason: str = "Upload cancelled.") -> None:
    """Abort part uploads, remove what was stored, and mark the dataset failed."""
    store = layer_store(dataset.layer)
    for upload in dataset.upload_files.exclude(storage_upload_id="").filter(completed=False):
        store.part_upload_abort(upload.storage_key, upload.storage_upload_id)
    dataset_fail(dataset=dataset, reason=reason)
    _upload_rows_delete(dataset)
    dataset.derivation_sources.all().delete()


def _upload_rows_delete(dataset: Dataset) -> None:
    """Drop an upload's bookkeeping rows: two statements, whatever the number of files.

    ``QuerySet.delete()`` would load every UploadFile to cascade to its parts
    (10,000 rows took 2 s); the parts go first, then the files, by ``dataset``.
    """
    UploadPart.objects.filter(upload_file__dataset=dataset).delete()
    dataset.upload_files.all()._raw_delete(UploadFile.objects.db)


def uploads_abandoned_clean(*, older_than: datetime.timedelta) -> int:
    """Cancel uploads idle for longer than ``older_than`` and drop stray part uploads."""
    cutoff = timezone.now() - older_than
    # Browser uploads only: an ingest or API registration has no upload files
    # and may rightly copy for longer than any idle limit.
    idle = (
        Dataset.objects.filter(
            status=DatasetStatus.UPLOADING, created_at__lt=cutoff, upload_files__isnull=False
        )
        .exclude(upload_files__updated_at__gte=cutoff)
        .distinct()
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
    # Derived uploads go to processed and curated, so their parts are there.
    for layer in UPLOAD_LAYERS:
        store = layer_store(layer)
        for key, upload_id in store.part_uploads_stale(before=cutoff):
            if upload_id not in known:
                store.part_upload_abort(key, upload_id)
    return count
