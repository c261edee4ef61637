"""A snapshot: the consistent cut's catalog and files into the backup store (issue 12).

Layout, under ``snapshots/<kind>/<label>/``:

- ``catalog.json``: the catalog at the cut (:mod:`backups.services.cut`);
- ``manifest-sha256.txt``: ``<sha256>  <layer>/<key>`` per file, which
  ``sha256sum -c`` checks from the folder that holds the layers' folders of a
  restored lake (``var/storage/`` on the embedded default);
- ``manifest.json``, written last: what the snapshot holds. A snapshot
  without it is incomplete (its writer died): never listed as restorable.

The bytes themselves are blobs (:mod:`backups.services.blobs`), shared by
every snapshot. Run again after a lost worker, a snapshot starts from the
top: blobs already stored are skipped, the small files written again.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

from django.utils import timezone

from catalog.models import Activity
from catalog.services import provenance_record
from lakeweb.jobs.runner import JobContext
from lakeweb.storage import LayerStore, StorageError, StoredObject
from lakeweb.storage.backupstore import backup_store

from ..models import BackupJob
from .blobs import BlobTally, blob_key, blobs_store
from .cut import Cut, cut_take

MANIFEST_FORMAT = "lakeweb-snapshot/1"
MANIFEST = "manifest.json"
CATALOG = "catalog.json"
CHECKSUMS = "manifest-sha256.txt"
SPOOL_BYTES = 16 * 1024 * 1024
# Per-file errors kept on the snapshot's row (the manifest holds them all).
MAX_ERRORS = 200


def snapshot_label(*, when: Any, job_id: Any) -> str:
    """Time of the snapshot (UTC) and the job: unique, and sorted by time."""
    return f"{when.astimezone(datetime.UTC):%Y-%m-%dT%H%M%S.%fZ}-{str(job_id)[:8]}"


def backup_store_ready() -> LayerStore:
    """The backup store, made if missing; StorageError with a readable reason if unreachable."""
    store = backup_store()
    try:
        store.ensure()
        store.check()
    except StorageError:
        raise
    except Exception as exc:  # botocore's connection errors, OSError of a folder
        raise StorageError(f"the backup store cannot be reached: {exc}") from exc
    return store


def snapshot_body(ctx: JobContext) -> dict[str, Any]:
    """Take the cut, store its blobs, then the catalog, checksums and the manifest, last."""
    backup = BackupJob.objects.select_related("job").get(job=ctx.job)
    started = time.monotonic()
    store = backup_store_ready()
    if not backup.prefix:
        label = snapshot_label(when=ctx.job.started_at or timezone.now(), job_id=ctx.job.pk)
        backup.prefix = f"snapshots/{backup.kind}/{label}/"
        backup.save(update_fields=["prefix"])
    if backup.complete or store.exists(backup.prefix + MANIFEST):
        return _finish_once(ctx, backup, None)  # an earlier attempt wrote it all
    cut = cut_take()
    try:
        ctx.progress(0, cut.file_count, f"copying the blobs of {cut.file_count} files", force=True)
        tally = blobs_store(
            cut.file_entries, store, progress=lambda done: ctx.progress(done, cut.file_count)
        )
        catalog = _spool_save(store, backup.prefix + CATALOG, cut.catalog, "application/json")
        _write_checksums(store, backup.prefix + CHECKSUMS, cut)
        _write_manifest(store, backup, cut, tally, catalog, time.monotonic() - started)
    finally:
        cut.close()
    return _finish_once(ctx, backup, (cut, tally))


def _spool_save(store: LayerStore, key: str, spool: IO[bytes], content_type: str) -> StoredObject:
    """A spooled file in one PUT while it is small enough to be held (the usual case),
    else streamed."""
    size = spool.seek(0, os.SEEK_END)
    spool.seek(0)
    if size <= SPOOL_BYTES:
        return store.put_bytes(key, spool.read(), content_type=content_type)
    return store.save(key, spool, content_type=content_type)


def _write_checksums(store: LayerStore, key: str, cut: Cut) -> None:
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        for entry in cut.file_entries():
            spool.write(checksum_line(entry["sha256"], f"{entry['layer']}/{entry['storage_key']}"))
        _spool_save(store, key, spool, "text/plain")


def checksum_line(sha256: str, path: str) -> bytes:
    """One ``sha256sum`` line; a name with a backslash or newline is escaped as GNU's is."""
    if "\\" in path or "\n" in path:
        escaped = path.replace("\\", "\\\\").replace("\n", "\\n")
        return f"\\{sha256}  {escaped}\n".encode()
    return f"{sha256}  {path}\n".encode()


def _write_manifest(
    store: LayerStore,
    backup: BackupJob,
    cut: Cut,
    tally: BlobTally,
    catalog: StoredObject,
    seconds: float,
) -> None:
    head = {
        "format": MANIFEST_FORMAT,
        "kind": backup.kind,
        "label": backup.prefix.rstrip("/").rsplit("/", 1)[-1],
        "cut": cut.at.isoformat(),
        "job": str(backup.job_id),
        "catalog": {"key": CATALOG, "size": catalog.size, "sha256": catalog.sha256},
        "checksums": CHECKSUMS,
        "dataset_count": sum(1 for _id, _layer, status in cut.datasets if status == "ready"),
        "file_count": tally.files,
        "bytes_new": tally.bytes_new,
        "bytes_reused": tally.bytes_reused,
        "errors": tally.errors,  # files whose blob it lacks (cold, no readable copy)
        "seconds": round(seconds, 3),
    }
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        body = json.dumps(head)[:-1]  # the datasets follow, one at a time
        spool.write(body.encode() + b', "datasets": [')
        for n, dataset in enumerate(_manifest_datasets(cut)):
            spool.write((b", " if n else b"") + json.dumps(dataset).encode())
        write_date = json.dumps(timezone.now().isoformat())
        spool.write(b'], "write_date": ' + write_date.encode() + b"}\n")
        _spool_save(store, backup.prefix + MANIFEST, spool, "application/json")


def _manifest_datasets(cut: Cut) -> Iterator[dict[str, Any]]:
    """Each dataset of the cut with its files, read back from the cut's spool in order."""
    entries = cut.file_entries()
    pending = next(entries, None)
    for dataset_id, layer, status in cut.datasets:
        files = []
        while pending is not None and pending["dataset"] == dataset_id:
            files.append(
                {
                    "path": pending["path"],
                    "size": pending["size"],
                    "sha256": pending["sha256"],
                    "blob": blob_key(pending["sha256"]),
                }
            )
            pending = next(entries, None)
        yield {"id": dataset_id, "layer": layer, "status": status, "files": files}


def _finish_once(
    ctx: JobContext, backup: BackupJob, done: tuple[Cut, BlobTally] | None
) -> dict[str, Any]:
    """Record the snapshot complete and its provenance event, once whatever worker gets here."""
    with ctx.hold():
        backup.refresh_from_db()
        if not backup.complete:
            if done is not None:
                cut, tally = done
                backup.cut = cut.at
                backup.dataset_count = sum(1 for d in cut.datasets if d[2] == "ready")
                backup.object_count = tally.files
                backup.bytes_copied, backup.bytes_reused = tally.bytes_new, tally.bytes_reused
                backup.errors, backup.error_count = tally.errors[:MAX_ERRORS], len(tally.errors)
            backup.complete = True
            backup.save()
            provenance_record(
                activity=Activity.BACKUP,
                actor=backup.job.requested_by,
                target_layer="",
                parameters={"job": str(backup.job_id), "snapshot": backup.prefix},
                note=f"{backup.kind} snapshot {backup.prefix}: {backup.dataset_count} datasets, "
                f"{backup.object_count} files, {backup.bytes_copied} bytes new",
            )
    return {
        "snapshot": backup.prefix,
        "datasets": backup.dataset_count,
        "files": backup.object_count,
        "bytes_new": backup.bytes_copied,
        "bytes_reused": backup.bytes_reused,
        "errors": backup.error_count,
    }
