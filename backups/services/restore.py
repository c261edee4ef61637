"""Restore: datasets back from a snapshot into their layers, as a job (issue 12).

Each dataset's bytes are copied from their blobs into its layer and proven
against their SHA-256 first (the copy's own checksum, or a read-back); only
then are its rows written, in one transaction with its provenance and a
``restore`` event, so a dataset is either whole or not there. A dataset whose
blob does not match fails with the file named; the others go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from catalog.models import Activity, Dataset, DatasetStatus
from catalog.services import provenance_record
from lakeweb.errors import ActionRefused, BadInput, ChecksumMismatch, PermissionRefused, TooLarge
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import LayerStore, StorageError, StoredObject, layer_store
from lakeweb.storage.backupstore import backup_store
from lakeweb.storage.copy import copy_verified_object

from .blobs import blob_key
from .catalog_load import (
    dataset_load,
    event_links_load,
    events_load,
    promotions_load,
    references_load,
)
from .snapshots import Snapshot, snapshot_catalog, snapshot_open

MAX_DATASETS = 1000


class RestoreIncomplete(Exception):
    """Some datasets could not be restored (each named, with its reason)."""


def restore_request(
    *,
    snapshot: str,
    dataset_ids: list[str] | None = None,
    into_empty: bool = False,
    user: User | None,
) -> Job:
    """Check a restore can go ahead (nothing is written otherwise), then queue its job."""
    if user is not None and not user.has_perm("backups.trigger_backup"):
        raise PermissionRefused("Only curators and admins can restore from backups.")
    ids = _ids_clean(dataset_ids or [])
    found = snapshot_open(snapshot)
    for dataset_id in ids:
        _restorable_check(found, dataset_id)
    if into_empty:
        _empty_check()
    parameters = {"snapshot": found.name, "datasets": ids, "into_empty": into_empty}
    try:
        with transaction.atomic():
            return job_request(
                kind="restore",
                requested_by=user,
                parameters=parameters,
                unique_key=f"restore:{found.name}",
            )
    except IntegrityError:
        raise ActionRefused(f"A restore of {found.name} is already queued or running.") from None


def _ids_clean(given: list[str]) -> list[str]:
    if len(given) > MAX_DATASETS:
        raise TooLarge(f"At most {MAX_DATASETS} datasets per restore; {len(given)} were given.")
    ids = []
    for text in given:
        try:
            ids.append(str(uuid.UUID(str(text)[:64])))
        except ValueError:
            raise BadInput(f"{str(text)[:64]!r} is not a dataset id.") from None
    return sorted(set(ids))


def _restorable_check(snapshot: Snapshot, dataset_id: str) -> None:
    entry = snapshot.dataset(dataset_id)
    if entry is None:
        raise BadInput(f"Snapshot {snapshot.name} holds no dataset {dataset_id}.")
    if entry["status"] != DatasetStatus.READY:
        raise ActionRefused(f"Dataset {dataset_id} was deleted before snapshot {snapshot.name}.")
    live = Dataset.objects.filter(pk=dataset_id).exclude(status=DatasetStatus.DELETED)
    if live.exists():
        raise ActionRefused(
            f"Dataset {dataset_id} still exists; only a deleted dataset can be restored."
        )


def _empty_check() -> None:
    if Dataset.objects.exists():
        raise ActionRefused("--into-empty needs an empty catalog: this one holds datasets.")
    for layer in ("raw", "processed", "curated", "archive"):
        if next(iter(layer_store(layer).list_keys("datasets/")), None) is not None:
            raise ActionRefused(f"--into-empty needs empty layers: {layer} holds objects.")


def restore_body(ctx: JobContext) -> dict[str, Any]:
    """Bring the asked datasets back (all the snapshot's that are missing when none are named)."""
    snapshot = snapshot_open(ctx.parameters["snapshot"])
    catalog = snapshot_catalog(snapshot)
    references_load(catalog)
    rows = {row["id"]: row for row in catalog["datasets"]}
    wanted = ctx.parameters["datasets"] or [
        d["id"] for d in snapshot.manifest["datasets"] if d["status"] == DatasetStatus.READY
    ]
    total = sum(len(rows[i]["files"]) for i in wanted)
    ctx.progress(0, total, f"restoring {len(wanted)} datasets", force=True)
    restored: list[str] = []
    failed: dict[str, str] = {}
    done = 0
    for dataset_id in wanted:
        entry = snapshot.dataset(dataset_id)
        assert entry is not None  # the request checked it; the manifest never changes
        try:
            named = bool(ctx.parameters["datasets"])
            ctx.progress(done, total, f"restoring dataset {dataset_id}")
            if _dataset_restore(ctx, snapshot, rows[dataset_id], catalog, named=named, at=done):
                restored.append(dataset_id)
        except (ChecksumMismatch, StorageError, ActionRefused) as exc:
            failed[dataset_id] = str(exc)
            ctx.log(f"dataset {dataset_id} not restored: {exc}")
        done += len(entry["files"])
        ctx.progress(done, total)
    if ctx.parameters["into_empty"]:
        _rest_of_lake_load(catalog)
    event_links_load(catalog["events"])
    promotions_load(catalog["promotions"])
    if failed:
        first = next(iter(failed.items()))
        raise RestoreIncomplete(
            f"{len(failed)} of {len(wanted)} datasets could not be restored "
            f"({len(restored)} were); {first[0]}: {first[1]}"
        )
    return {"snapshot": snapshot.name, "restored": len(restored), "datasets": restored}


def _dataset_restore(
    ctx: JobContext,
    snapshot: Snapshot,
    row: dict[str, Any],
    catalog: dict[str, Any],
    *,
    named: bool,
    at: int,
) -> bool:
    """One dataset: bytes first, then its rows at once. False when it was there already.

    A dataset still in the catalog is left as it is: skipped when the whole
    snapshot is restored, a failure when it was asked for by name.
    """
    current = Dataset.objects.filter(pk=row["id"]).first()
    if current is not None and current.status != DatasetStatus.DELETED:
        if _restored_by(current, ctx.job) or not named:
            return False
        raise ActionRefused(f"dataset {row['id']} still exists; it was left as it is")
    file_rows = row["files"]
    blobs_restore(row, file_rows, progress=lambda n: ctx.progress(at + n))
    with ctx.hold(), transaction.atomic():
        dataset = dataset_load(row, file_rows)
        events_load(e for e in catalog["events"] if e["dataset"] == row["id"])
        provenance_record(
            activity=Activity.RESTORE,
            actor=ctx.job.requested_by,
            dataset=dataset,
            target_layer=dataset.layer,
            parameters={"snapshot": snapshot.name, "job": str(ctx.job.pk)},
            note=f"restored from snapshot {snapshot.name}: {len(file_rows)} files verified",
        )
    return True


def _rest_of_lake_load(catalog: dict[str, Any]) -> None:
    """What a whole lake has besides its datasets' bytes: tombstones (provenance points at
    them) with their events, and the events of no dataset (backups, restores)."""
    for row in catalog["datasets"]:
        if row["status"] == DatasetStatus.DELETED:
            with transaction.atomic():
                dataset_load(row, [])
                events_load(e for e in catalog["events"] if e["dataset"] == row["id"])
    events_load(e for e in catalog["events"] if e["dataset"] is None)


def _restored_by(dataset: Dataset, job: Job) -> bool:
    return dataset.provenance_events.filter(
        activity=Activity.RESTORE, parameters__job=str(job.pk)
    ).exists()


def blobs_restore(
    row: dict[str, Any],
    files: list[dict[str, Any]],
    *,
    progress: Callable[[int], None],
    target: LayerStore | None = None,
    prefix: str | None = None,
) -> None:
    """Copy each blob to its key in the dataset's layer, verified, BACKUP_CONCURRENCY at a
    time (as snapshots copy); on a mismatch, take back what was copied (on raw's Object
    Lock, only hidden) once no copy is in flight, and name the file.

    A drill restores into ``target`` instead (its scratch folder), each file at
    ``prefix`` + its path, and a mismatch takes back ``prefix``.
    """
    store = backup_store()
    layer = target if target is not None else layer_store(row["layer"])
    pool = ThreadPoolExecutor(settings.BACKUP_CONCURRENCY, thread_name_prefix="restore")

    def copy(entry: dict[str, Any]) -> StoredObject:
        key = entry["storage_key"] if prefix is None else prefix + entry["path"]
        return _blob_restore(store, layer, entry, key)

    try:
        # Storage only in the threads; progress (a row) is written here, in the job's thread.
        copies = pool.map(copy, files)
        for n, (entry, stored) in enumerate(zip(files, copies, strict=True), start=1):
            # The version this restore wrote is the one the catalog reads from now on.
            entry["version_id"] = stored.version_id
            progress(n)
    except BaseException as exc:
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(exc, ChecksumMismatch):
            layer.delete_prefix(row["storage_prefix"] if prefix is None else prefix)
        raise
    finally:
        pool.shutdown(wait=True)


def _blob_restore(
    store: LayerStore, layer: LayerStore, entry: dict[str, Any], target_key: str
) -> StoredObject:
    try:
        return copy_verified_object(
            source=store,
            key=blob_key(entry["sha256"]),
            target=layer,
            target_key=target_key,
            sha256=entry["sha256"],
            size=entry["size"],
        )
    except ChecksumMismatch:
        raise ChecksumMismatch(
            f"{entry['path']}: the backup's bytes do not match its SHA-256 {entry['sha256']}"
        ) from None
