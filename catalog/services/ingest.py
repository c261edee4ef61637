"""Bulk ingest of a local folder or an S3 prefix into the raw layer (SPEC §3 item 1).

Large data that should not go through a browser is registered with
``manage.py ingest``. It gets the checks an upload gets (paths, metadata
against the form, permission), all before anything is stored; then the files
stream into raw in parallel, each with its size and SHA-256, and the dataset
is sealed with a collection event that says it was an ingest and from where.

The API registers an S3 prefix with the same copy (``register.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, cast

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from lakeweb.errors import PermissionRefused
from lakeweb.storage import LayerStore, StorageError, StoredObject, layer_store
from lakeweb.text import text_unstorable

from ..metadata import yes_no
from ..models import Dataset, FieldType, MetadataFormVersion
from .datasets import dataset_fail, dataset_storage_key
from .origins import Origin, SourceFile, ingest_origin, shown
from .paths import clean_paths
from .upload import (
    DatasetDraft,
    datafile_record,
    dataset_upload_finish,
    dataset_upload_start,
    guess_content_type,
)

# progress(done_files, total_files, done_bytes, total_bytes), called in the caller's thread
Progress = Callable[[int, int, int, int], None]
PROGRESS_SECONDS = 0.25


def metadata_pairs(*, form_version: MetadataFormVersion, pairs: Sequence[str]) -> dict[str, Any]:
    """One experiment's values from ``key=value`` strings, keyed by the form's field names.

    A multiple-choice field takes its key once per choice; any other key may
    appear once; a yes/no field takes yes/no, y/n, true/false, on/off or 1/0.
    Unknown keys are refused rather than dropped silently.
    """
    kinds = {spec["name"]: spec["type"] for spec in form_version.fields}
    values: dict[str, Any] = {}
    errors = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            errors.append(f"Metadata '{shown(pair)}' is not of the form key=value.")
        elif key not in kinds:
            errors.append(
                f"Metadata key '{shown(key)}' is not a field of form {form_version}; "
                f"its fields are: {', '.join(kinds) or 'none'}."
            )
        elif kinds[key] == FieldType.MULTIPLE_CHOICE:
            values.setdefault(key, []).append(value)
        elif key in values:
            errors.append(f"Metadata key '{key}' is given twice.")
        elif kinds[key] == FieldType.BOOLEAN:
            answer = yes_no(value)
            if answer is None:
                errors.append(f"Metadata '{key}' is a yes/no field, not '{shown(value)}'.")
            values[key] = bool(answer)
        else:
            values[key] = value
    if errors:
        raise ValidationError(errors)
    return values


def draft_field_problems(draft: DatasetDraft) -> list[str]:
    """What is wrong with a draft's own texts (its metadata is checked against its form).

    A command line in another encoding than UTF-8 gives Python lone surrogates
    for the bytes it cannot read: they, like NUL, cannot be stored.
    """
    problems = []
    if not draft.name.strip():
        problems.append("The dataset needs a name.")
    texts: list[tuple[str, str, int | None]] = [
        ("Name", draft.name, 255),
        ("External id", draft.external_id, 200),
    ]
    texts += [("Description", draft.description, None), *(("A tag", t, None) for t in draft.tags)]
    for label, value, limit in texts:
        if limit and len(value) > limit:
            problems.append(f"{label} is longer than {limit} characters.")
        if text_unstorable(value):
            problems.append(
                f"{label} holds a NUL or a character that is not UTF-8: '{shown(value[:80])}'."
            )
    return problems


def draft_owner_check(owner: User) -> None:
    if not owner.has_perm("catalog.add_dataset"):
        raise PermissionRefused(f"{owner} may not add datasets (needs catalog.add_dataset).")


def origin_files(origin: Origin) -> list[tuple[str, SourceFile]]:
    """The files to copy with their cleaned paths; every problem found is raised at once."""
    files, problems = origin.scan()
    paths: list[str] = []
    if files:
        try:
            paths = clean_paths([file.path for file in files])
        except ValidationError as exc:
            problems = [*problems, *exc.messages]
    if problems:
        raise ValidationError(problems)
    if not files:
        raise ValidationError(f"{origin.label} has no files to ingest.", code="no_files")
    return list(zip(paths, files, strict=True))


def dataset_ingest(
    *, draft: DatasetDraft, origin: str, workers: int = 4, progress: Progress | None = None
) -> Dataset:
    """Register a local folder or ``s3://bucket/prefix/`` as a new, sealed raw dataset.

    Raises ValidationError or PermissionRefused before anything is stored;
    on a read or storage failure midway the dataset is marked failed, what it
    stored is removed, and the error (a StorageError for I/O) is raised.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    # Fail fast, before listing what may be a million objects.
    draft_owner_check(draft.owner)
    problems = draft_field_problems(draft)
    if problems:
        raise ValidationError(problems)
    where = ingest_origin(origin, workers=workers)
    items = origin_files(where)
    dataset = dataset_upload_start(draft=draft)
    try:
        dataset_ingest_copy(
            dataset=dataset, origin=where, items=items, workers=workers, progress=progress
        )
    except BaseException as exc:
        reason = str(exc) or "ingest interrupted"
        dataset_fail(dataset=dataset, reason=f"Ingest from {where.label} failed: {reason}")
        raise
    dataset.refresh_from_db()
    return dataset


def dataset_ingest_copy(
    *,
    dataset: Dataset,
    origin: Origin,
    items: list[tuple[str, SourceFile]] | None = None,
    workers: int = 4,
    progress: Progress | None = None,
    parameters: dict[str, Any] | None = None,
) -> Dataset:
    """Copy an origin's files into an unsealed dataset, then seal it with its provenance.

    The part of an ingest that moves bytes, shared by ``manage.py ingest`` and
    the API's registrations (on a worker). ``items`` is the origin's listing
    when the caller made it already. Files the dataset holds from an earlier,
    interrupted attempt are not copied again. Errors are raised as they come:
    whether to mark the dataset failed is the caller's call (a task retries first).
    """
    if items is None:
        items = origin_files(origin)
    done = set(dataset.files.values_list("path", flat=True))
    missing = [item for item in items if item[0] not in done]
    if missing:
        _copy_all(dataset=dataset, origin=origin, items=missing, workers=workers, progress=progress)
    return dataset_upload_finish(
        dataset=dataset,
        actor=dataset.owner,
        parameters={"via": "ingest", "origin": origin.label, **(parameters or {})},
    )


class _Cancelled(Exception):
    """Another copy failed (or the user interrupted); this one stops midway."""


@dataclass(frozen=True)
class _Copied:
    path: str
    file: SourceFile
    stored: StoredObject


class _Transfer:
    """What the copying threads share: files to copy, results, byte count, a stop flag."""

    def __init__(self, items: list[tuple[str, SourceFile]]) -> None:
        self.pending: queue.SimpleQueue[tuple[str, SourceFile]] = queue.SimpleQueue()
        for item in items:
            self.pending.put(item)
        # A copy's result, or the error that stopped it.
        self.results: queue.SimpleQueue[_Copied | BaseException] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.done_bytes = 0
        self._lock = threading.Lock()

    def count(self, size: int) -> None:
        with self._lock:
            self.done_bytes += size


class _Counted:
    """A stream that counts what is read and stops when the transfer does."""

    def __init__(self, stream: IO[bytes], transfer: _Transfer) -> None:
        self._stream = stream
        self._transfer = transfer

    def read(self, size: int = -1) -> bytes:
        if self._transfer.stop.is_set():
            raise _Cancelled("ingest stopped")
        data = self._stream.read(size)
        self._transfer.count(len(data))
        return data


def _copy_all(
    *,
    dataset: Dataset,
    origin: Origin,
    items: list[tuple[str, SourceFile]],
    workers: int,
    progress: Progress | None,
) -> None:
    """Stream the files into the dataset's layer in parallel, recording each one.

    Only the threads move bytes; the rows are written and progress reported
    here, in the caller's thread: Django's connections are per thread, and
    SQLite's shared in-memory test database refuses concurrent writers.
    """
    transfer = _Transfer(items)
    report = _reporter(progress=progress, items=items, transfer=transfer)
    report(0)
    store = layer_store(dataset.layer)
    count = min(workers, len(items))
    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="ingest")
    try:
        for _ in range(count):
            pool.submit(_worker, dataset=dataset, store=store, origin=origin, transfer=transfer)
        _record_all(dataset=dataset, total=len(items), transfer=transfer, report=report)
    finally:
        # Also on an error or Ctrl-C: the other copies stop at their next read.
        transfer.stop.set()
        pool.shutdown(wait=True)


def _reporter(
    *, progress: Progress | None, items: list[tuple[str, SourceFile]], transfer: _Transfer
) -> Callable[[int], None]:
    total_bytes = sum(file.size for _, file in items)

    def report(done_files: int) -> None:
        if progress is not None:
            progress(done_files, len(items), transfer.done_bytes, total_bytes)

    return report


def _record_all(
    *, dataset: Dataset, total: int, transfer: _Transfer, report: Callable[[int], None]
) -> None:
    done = 0
    while done < total:
        try:
            copied = transfer.results.get(timeout=PROGRESS_SECONDS)
        except queue.Empty:
            report(done)  # a large file is still on its way
            continue
        if isinstance(copied, BaseException):
            raise copied
        _record(dataset=dataset, copied=copied)
        done += 1
        report(done)


def _record(*, dataset: Dataset, copied: _Copied) -> None:
    stored = copied.stored
    if stored.size != copied.file.size:
        raise StorageError(
            f"'{shown(copied.file.path)}' changed while it was ingested "
            f"({copied.file.size} bytes listed, {stored.size} read)."
        )
    datafile_record(
        dataset=dataset,
        path=copied.path,
        stored=stored,
        content_type=guess_content_type(copied.path),
    )


def _worker(*, dataset: Dataset, store: LayerStore, origin: Origin, transfer: _Transfer) -> None:
    while not transfer.stop.is_set():
        try:
            path, file = transfer.pending.get_nowait()
        except queue.Empty:
            return
        try:
            stored = _store(
                store=store, dataset=dataset, origin=origin, path=path, file=file, transfer=transfer
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which raises it
            # The error goes in before the stop, so it arrives before any _Cancelled.
            transfer.results.put(exc)
            transfer.stop.set()
            return
        transfer.results.put(_Copied(path=path, file=file, stored=stored))


def _store(
    *,
    store: LayerStore,
    dataset: Dataset,
    origin: Origin,
    path: str,
    file: SourceFile,
    transfer: _Transfer,
) -> StoredObject:
    key = dataset_storage_key(dataset=dataset, path=path)
    try:
        with origin.open(file) as stream:
            # Stores only read() their stream, and _Counted reads like the one it wraps.
            return store.save(
                key,
                cast("IO[bytes]", _Counted(stream, transfer)),
                content_type=guess_content_type(path),
            )
    except OSError as exc:
        raise StorageError(f"Cannot read '{shown(file.path)}': {exc}") from exc
