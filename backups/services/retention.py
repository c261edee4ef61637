"""Retention and garbage collection of the backup store, one job (issue 12).

Retention keeps the newest BACKUP_KEEP_DAILY daily and BACKUP_KEEP_WEEKLY
weekly snapshots, and every manual one until an admin deletes it. A snapshot
is removed manifest first, so it is never half-listed as restorable.

Garbage collection then removes blobs that no complete snapshot names and
that no snapshot has used for BACKUP_GC_GRACE_DAYS. A running snapshot marks
each blob used *before* it checks or copies it (``blobs_touch``), and the
collector re-reads that mark under a row lock before deleting, so a blob a
snapshot is writing or relying on is never removed; its manifest, not yet
written, could not protect it. No storage lifecycle rule may expire blobs.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import LayerStore
from lakeweb.storage.backupstore import backup_store

from ..models import BackupJob, BackupKind, Blob
from .snapshot import MANIFEST
from .snapshots import ROOT, snapshot_name_clean, snapshots_restorable

BLOBS = "blobs/sha256/"
# Rows read, and deleted, per query when forgetting rows whose blob is gone.
FORGET_BATCH = 1000


def retention_request(*, user: User | None = None) -> Job | None:
    """Queue a retention pass unless one is queued or running (then None)."""
    try:
        with transaction.atomic():
            return job_request(kind="backup_retention", requested_by=user, unique_key="retention")
    except IntegrityError:
        return None


def retention_body(ctx: JobContext) -> dict[str, Any]:
    """Prune snapshots past retention, then collect blobs nothing names."""
    removed = snapshots_prune()
    ctx.progress(0, None, f"{len(removed)} snapshots removed; collecting blobs", force=True)
    return {"removed": removed, **blobs_collect(ctx)}


def snapshots_prune() -> list[str]:
    """Remove the daily and weekly snapshots beyond what is kept; their names."""
    keep = {
        BackupKind.DAILY: settings.BACKUP_KEEP_DAILY,
        BackupKind.WEEKLY: settings.BACKUP_KEEP_WEEKLY,
    }
    names = snapshots_restorable()
    removed = []
    for kind, count in keep.items():
        of_kind = [name for name in names if name.startswith(f"{kind}/")]  # oldest first
        for name in of_kind[: max(len(of_kind) - count, 0)]:
            _snapshot_remove(name)
            removed.append(name)
    return removed


def snapshot_delete(*, name: str, user: User) -> None:
    """An admin removes a snapshot (the only way a manual one goes)."""
    if not user.is_superuser:
        raise PermissionRefused("Only admins can delete snapshots.")
    name = snapshot_name_clean(name)
    if name not in snapshots_restorable():
        raise ActionRefused(f"There is no complete snapshot {name}.")
    _snapshot_remove(name)


def _snapshot_remove(name: str) -> None:
    store, prefix = backup_store(), f"{ROOT}{name}/"
    store.delete(prefix + MANIFEST)  # first: from here on it is not restorable
    store.delete_prefix(prefix)
    BackupJob.objects.filter(prefix=prefix).update(removed_at=timezone.now())


def _referenced(store: LayerStore) -> set[str]:
    """SHA-256 of every blob a complete snapshot names."""
    names: set[str] = set()
    for name in snapshots_restorable():
        with store.open(f"{ROOT}{name}/{MANIFEST}") as stream:
            manifest = json.load(stream)
        names.update(f["sha256"] for d in manifest["datasets"] for f in d["files"])
    return names


def blobs_collect(ctx: JobContext | None = None) -> dict[str, int]:
    """Remove unnamed blobs past the grace window; counts of kept and removed blobs.

    Run again after a lost worker it goes on from where that one stopped:
    blobs removed already are not listed, so nothing is removed twice. A
    worker killed between removing a blob and its row leaves a row whose blob
    is gone: :func:`_rows_forget` drops such rows at the end of the pass.
    """
    store = backup_store()
    referenced = _referenced(store)
    before = timezone.now() - datetime.timedelta(days=settings.BACKUP_GC_GRACE_DAYS)
    keys = list(store.list_keys(BLOBS))
    if ctx is not None:
        ctx.progress(0, len(keys), f"looking at {len(keys)} blobs", force=True)
    kept = removed = 0
    for key in keys:
        sha = key.rsplit("/", 1)[-1]
        if sha in referenced or not _blob_remove(store, key, sha, before):
            kept += 1
        else:
            removed += 1
        if ctx is not None:
            ctx.progress(kept + removed, len(keys))
    listed = {key.rsplit("/", 1)[-1] for key in keys}
    forgotten = _rows_forget(listed | referenced, before)
    return {"blobs_kept": kept, "blobs_removed": removed, "rows_forgotten": forgotten}


def _rows_forget(present: set[str], before: datetime.datetime) -> int:
    """Drop rows unused for the grace window whose blob the store did not list.

    Only a row goes, never a blob; a snapshot that touches the row meanwhile
    keeps it (the time is checked again in the delete), and one that finds
    the row gone copies the blob again, as for any blob the store lacks.
    """
    stale = Blob.objects.filter(last_used_at__lte=before).values_list("sha256", flat=True)
    gone = [sha for sha in stale.iterator(chunk_size=FORGET_BATCH) if sha not in present]
    forgotten = 0
    for start in range(0, len(gone), FORGET_BATCH):
        chunk = gone[start : start + FORGET_BATCH]
        forgotten += Blob.objects.filter(sha256__in=chunk, last_used_at__lte=before).delete()[0]
    return forgotten


def _blob_remove(store: LayerStore, key: str, sha: str, before: datetime.datetime) -> bool:
    with transaction.atomic():
        row = Blob.objects.select_for_update().filter(sha256=sha).first()
        if row is None:
            # Not known here (a store filled by another instance): its grace starts now.
            Blob.objects.create(sha256=sha, size=0, last_used_at=timezone.now())
            return False
        if row.last_used_at > before:
            return False
        # Committed before the delete: should this pass die after the delete and
        # before its row goes, the row left sends snapshots to ask the store,
        # never vouches for a blob that is gone.
        Blob.objects.filter(pk=sha).update(stored_at=None)
    with transaction.atomic():
        row = Blob.objects.select_for_update().filter(sha256=sha).first()
        if row is None or row.last_used_at > before:
            return False  # a snapshot marked it used in between
        store.delete(key)
        row.delete()
    return True
