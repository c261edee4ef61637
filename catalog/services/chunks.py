"""Chunks of a resumable upload: storing them, hashing them in order, completing files.

A file of one chunk is stored and hashed with hashlib in one go (small files
may come several to a request: ``upload_batch_write``). A larger file's
chunks are S3 multipart parts, or written in place in a staging file. The
page sends them in order, so a chunk is usually the next one to hash and is
hashed and stored a piece at a time as it arrives; one that arrives early
(a retry) is stored at once and waits for its turn to be hashed, because
SHA-256 is sequential. The hash state after each chunk is
saved on the UploadFile row (``lakeweb.hashing``), so an upload resumes after
a reload or a server restart. S3's own multipart checksums are per part, so
this whole-file SHA-256 is lakeweb's.

``UploadFile.received`` is the number of bytes hashed, always a whole
number of chunks; it advances by compare-and-set, so a repeated chunk (a
client retry) is stored twice at most and hashed once. On S3 the completed
object lists each part with the checksum of the bytes that were hashed, so S3
refuses to complete if a later copy of a part differed.

A request may die between storing a file and recording it (a killed worker,
a database blip), and its retry stores the file again. Raw keeps every
version for its retention, so those writes are create-if-absent
(``exclusive``, and a part upload's completion is too): the retry finds the
object, checks it is the bytes it was sent (size and checksum), and records
it; other bytes are refused (:class:`ChunkMismatch`) and nothing is stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import IO, Any, NamedTuple, Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

# Every plain refusal here is about the request's own bytes or ids: bad input (400).
from lakeweb.db import rows_insert
from lakeweb.errors import BadInput, ChunkConflict, UploadClosed
from lakeweb.hashing import ResumableSHA256
from lakeweb.storage import LayerStore, StoredObject, layer_store
from lakeweb.storage.base import ObjectConflict, PartUploadGone, PartWriter

from ..models import DataFile, Dataset, UploadFile, UploadPart
from .indexing import folder_of
from .upload import datafile_record

MIB = 1024 * 1024
# How much of a chunk a request reads at a time: small enough to stay in the
# CPU's cache while it is hashed and stored.
PIECE = MIB
BATCH_MAX_FILES = 500
# What a batch reads of its files' rows (not the hash state nor the times).
BATCH_FIELDS = (
    "id",
    "path",
    "size",
    "chunk_size",
    "received",
    "completed",
    "storage_key",
    "content_type",
)
# How many chunks past the hashed offset a file may have stored and waiting.
MAX_AHEAD = 4


class ChunkMismatch(UploadClosed):
    """The file is stored already, with other bytes than the ones sent now.

    Refused as a closed upload is (409, no ``received``): this file cannot
    go on with these bytes, so the page must stop and say why, not send the
    chunk again.
    """

    def __init__(self, path: str) -> None:
        super().__init__(
            f"'{path}' is already stored with other bytes than these: send the file as it "
            "was when the upload began, or cancel the upload."
        )


class BatchFile(NamedTuple):
    """What a batch needs of a file's row, read as a plain row (no model per file)."""

    id: int
    path: str
    size: int
    chunk_size: int
    received: int
    completed: bool
    storage_key: str
    content_type: str


class ChunkTarget(Protocol):
    """The file a chunk is for: an UploadFile, or a batch's plain row of one."""

    @property
    def path(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def chunk_size(self) -> int: ...
    @property
    def received(self) -> int: ...
    @property
    def completed(self) -> bool: ...


def upload_chunk_write(
    *, dataset: Dataset, file_id: Any, offset: int, length: int, stream: IO[bytes]
) -> UploadFile:
    """Store the chunk of one file at ``offset``; the file completes with its last chunk."""
    try:
        upload = dataset.upload_files.get(pk=int(file_id))
    except (UploadFile.DoesNotExist, TypeError, ValueError):
        raise BadInput("This upload has no such file.") from None
    _check_chunk(upload, offset=offset, length=length)
    if upload.size <= upload.chunk_size:
        return _write_whole(dataset, upload, _read_exactly(stream, length))
    return _write_part(dataset, upload, offset, length, stream)


def batch_ids(raw: str) -> list[int]:
    """The file ids of a batch, as the page lists them (``?files=12,13,14``), bounded first."""
    if len(raw) > BATCH_MAX_FILES * 21:
        raise BadInput(f"A batch holds at most {BATCH_MAX_FILES} files.")
    parts = raw.split(",") if raw else []
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        raise BadInput("List the batch's files as ?files=<id>,<id>,… in the order of the body.")
    ids = [int(p) for p in parts]
    if len(ids) > BATCH_MAX_FILES:
        raise BadInput(f"A batch holds at most {BATCH_MAX_FILES} files.")
    if len(set(ids)) != len(ids):
        raise BadInput("A batch lists each file once.")
    return ids


def upload_batch_write(
    *, dataset: Dataset, file_ids: list[int], stream: IO[bytes], length: int
) -> list[BatchFile]:
    """Store several whole small files sent in one request (the page batches them).

    The body is the files' bytes one after another, in the order of
    ``file_ids``; each file's size, known since the upload began, says where
    it ends. (Small files are dominated by per-request cost; a plain body
    costs nothing to split, where parsing multipart took 0.3 ms a file.)
    Each file is checked, stored and hashed on its own, and the batch is
    recorded in one transaction. If any of them had arrived already (a
    resumed upload), nothing is recorded and the page sends them one by one.
    """
    rows = dataset.upload_files.filter(pk__in=file_ids).values_list(*BatchFile._fields)
    uploads = {row[0]: BatchFile(*row) for row in rows}
    missing = [i for i in file_ids if i not in uploads]
    if missing:
        raise BadInput(f"This upload has no file {missing[0]}.")
    for upload in uploads.values():
        if upload.size > upload.chunk_size:
            raise BadInput(f"'{upload.path}' is too large for a batch; send it in chunks.")
        _check_chunk(upload, offset=0, length=upload.size)
    expected = sum(uploads[i].size for i in file_ids)
    if length != expected:
        raise BadInput(
            f"The batch's body must be the {len(file_ids)} files' {expected} bytes, "
            f"not {length}: a file may have changed since the upload began."
        )
    batch = [
        (uploads[i].storage_key, _read_exactly(stream, uploads[i].size), uploads[i].content_type)
        for i in file_ids
    ]
    try:
        objects = layer_store(dataset.layer).put_many(batch, exclusive=True)
    except ObjectConflict as exc:
        path = next(u.path for u in uploads.values() if u.storage_key == exc.key)
        raise ChunkMismatch(path) from exc
    _record_batch(dataset, uploads, dict(zip(file_ids, objects, strict=True)))
    return [uploads[i]._replace(received=uploads[i].size, completed=True) for i in file_ids]


@transaction.atomic
def _record_batch(
    dataset: Dataset, uploads: dict[int, BatchFile], stored: dict[int, StoredObject]
) -> None:
    changed = UploadFile.objects.filter(pk__in=list(stored), received=0, completed=False).update(
        received=F("size"), hash_state=b"", completed=True, updated_at=timezone.now()
    )
    if changed != len(stored):
        transaction.set_rollback(True)
        raise ChunkConflict("Some files of this batch had arrived already.", received=0)
    rows_insert(
        DataFile,
        ("path", "folder", "size", "sha256", "content_type", "storage_key", "version_id"),
        (
            (
                uploads[i].path,
                folder_of(uploads[i].path),
                object_.size,
                object_.sha256,
                uploads[i].content_type[:200],
                object_.key,
                object_.version_id,
            )
            for i, object_ in stored.items()
        ),
        constants={"dataset": dataset.pk},
    )


def _check_chunk(upload: ChunkTarget, *, offset: int, length: int) -> None:
    if upload.completed or offset < upload.received:
        raise ChunkConflict(f"'{upload.path}' already has byte {offset}.", received=upload.received)
    if offset % upload.chunk_size or offset >= max(upload.size, 1):
        raise BadInput(
            f"'{upload.path}' has no chunk at byte {offset} "
            f"(chunks of {upload.chunk_size} bytes, {upload.size} in all)."
        )
    if offset >= upload.received + MAX_AHEAD * upload.chunk_size:
        raise ChunkConflict(
            f"'{upload.path}' is at byte {upload.received}; byte {offset} is too far ahead.",
            received=upload.received,
        )
    expected = min(upload.chunk_size, upload.size - offset)
    if length != expected:
        raise BadInput(
            f"The chunk of '{upload.path}' at byte {offset} must be {expected} bytes, not {length}."
        )


def _read_exactly(stream: IO[bytes], length: int) -> bytes:
    # One read in the usual case: joining pieces would copy the chunk once more.
    first = stream.read(length)
    if len(first) == length:
        return first
    return b"".join([first, *_pieces(stream, length - len(first), done=len(first))])


def _pieces(stream: IO[bytes], length: int, *, done: int = 0) -> Iterator[bytes]:
    """The next ``length`` bytes of a request body, a piece at a time."""
    left = length
    while left:
        piece = stream.read(min(PIECE, left))
        if not piece:
            raise BadInput(
                f"The chunk ended after {done + length - left} of {done + length} bytes."
            )
        left -= len(piece)
        yield piece


def _write_whole(dataset: Dataset, upload: UploadFile, data: bytes) -> UploadFile:
    store = layer_store(dataset.layer)
    try:
        stored = store.put_bytes(
            upload.storage_key, data, content_type=upload.content_type, exclusive=True
        )
    except ObjectConflict as exc:
        raise ChunkMismatch(upload.path) from exc
    return _advance(
        upload,
        offset=0,
        received=upload.size,
        state=b"",
        sha256=stored.sha256,
        version_id=stored.version_id,
    )


def _write_part(
    dataset: Dataset, upload: UploadFile, offset: int, length: int, stream: IO[bytes]
) -> UploadFile:
    """Store one chunk of a larger file as a part and hash it in its turn.

    In the usual case the chunk is the next one to hash: it is then hashed and
    stored a piece at a time as it arrives, so the request holds one piece
    (an S3 part, which must be sent whole, is gathered as it comes). A chunk
    that arrives ahead of its turn (a retry racing the one before) is stored
    and kept in memory until every byte before it is hashed.
    """
    store = layer_store(dataset.layer)
    upload = _part_upload_begun(store, upload)
    number = offset // upload.chunk_size + 1
    in_turn = upload.received == offset
    hasher = _hasher(upload)
    early = b""
    with store.part_writer(
        upload.storage_key, upload.storage_upload_id, number=number, offset=offset, length=length
    ) as writer:
        if in_turn:
            for piece in _pieces(stream, length):
                writer.write(piece)
                hasher.update(piece)
        else:
            early = _read_exactly(stream, length)
            writer.write(early)
        info, completed_before = _part_finish(writer, last=offset + length == upload.size)
    if not in_turn:
        upload = _wait_for_turn(upload, offset)
        hasher = _hasher(upload)
        hasher.update(early)
    received = offset + length
    if received < upload.size:
        return _advance(
            upload, offset=offset, received=received, state=hasher.state(), part=(number, info)
        )
    sha256 = hasher.hexdigest()
    parts = [p.info for p in upload.parts.exclude(number=number)] + [info]
    version = _file_complete(store, upload, parts, sha256=sha256, completed_before=completed_before)
    return _advance(
        upload,
        offset=offset,
        received=received,
        state=b"",
        sha256=sha256,
        version_id=version,
        part=(number, info),
    )


def _part_finish(writer: PartWriter, *, last: bool) -> tuple[dict[str, Any], bool]:
    """The stored part, and whether an earlier request had completed the file already."""
    try:
        return writer.finish(), False
    except PartUploadGone as gone:
        if not last:
            raise
        return gone.part, True


def _file_complete(
    store: LayerStore,
    upload: UploadFile,
    parts: list[dict[str, Any]],
    *,
    sha256: str,
    completed_before: bool,
) -> str | None:
    """Make the file's object visible, once: a retry finds it made and checks it.

    Returns the object's version id (None where the store keeps none).
    """
    expected = StoredObject(key=upload.storage_key, size=upload.size, sha256=sha256)
    try:
        if completed_before:
            return store.verify_existing(expected, parts=parts).version_id
        return store.part_upload_complete(
            upload.storage_key, upload.storage_upload_id, parts, expected=expected
        )
    except ObjectConflict as exc:
        raise ChunkMismatch(upload.path) from exc


def _hasher(upload: UploadFile) -> ResumableSHA256:
    """The file's SHA-256 as far as it is received."""
    if upload.hash_state:
        return ResumableSHA256.from_state(upload.hash_state)
    return ResumableSHA256()


def _part_upload_begun(store: LayerStore, upload: UploadFile) -> UploadFile:
    if upload.storage_upload_id:
        return upload
    upload_id = store.part_upload_begin(upload.storage_key, content_type=upload.content_type)
    claimed = UploadFile.objects.filter(pk=upload.pk, storage_upload_id="").update(
        storage_upload_id=upload_id
    )
    if not claimed:  # another chunk of this file started one first
        store.part_upload_abort(upload.storage_key, upload_id)
    upload.refresh_from_db()
    return upload


def _wait_for_turn(upload: UploadFile, offset: int) -> UploadFile:
    """Wait (bounded) until every byte before ``offset`` is hashed."""
    deadline = time.monotonic() + settings.UPLOAD_ORDER_WAIT_SECONDS
    while True:
        received = UploadFile.objects.values_list("received", flat=True).get(pk=upload.pk)
        if received == offset:
            upload.refresh_from_db()
            return upload
        if received > offset or time.monotonic() > deadline:
            raise ChunkConflict(
                f"'{upload.path}' is at byte {received}; send byte {offset} again after it.",
                received=received,
            )
        time.sleep(0.01)


@transaction.atomic
def _advance(
    upload: UploadFile,
    *,
    offset: int,
    received: int,
    state: bytes,
    sha256: str | None = None,
    version_id: str | None = None,
    part: tuple[int, dict[str, Any]] | None = None,
) -> UploadFile:
    """Compare-and-set the hashed offset; record the DataFile when the file is complete."""
    changed = UploadFile.objects.filter(pk=upload.pk, received=offset, completed=False).update(
        received=received, hash_state=state, completed=sha256 is not None, updated_at=timezone.now()
    )
    if not changed:
        upload.refresh_from_db()
        raise ChunkConflict(f"'{upload.path}' moved on meanwhile.", received=upload.received)
    if part is not None:
        number, info = part
        # One upsert: a row may be left from an earlier, interrupted request.
        UploadPart.objects.bulk_create(
            [UploadPart(upload_file=upload, number=number, info=info)],
            update_conflicts=True,
            unique_fields=["upload_file", "number"],
            update_fields=["info"],
        )
    if sha256 is not None:
        stored = StoredObject(
            key=upload.storage_key, size=upload.size, sha256=sha256, version_id=version_id
        )
        datafile_record(
            dataset=upload.dataset,
            path=upload.path,
            stored=stored,
            content_type=upload.content_type,
        )
    upload.received, upload.hash_state, upload.completed = received, state, sha256 is not None
    return upload
