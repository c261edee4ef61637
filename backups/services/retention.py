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
    """Remove unnamed blobs past the grace window; counts of kept and removed."""
    store = backup_store()
    referenced = _referenced(store)
    before = timezone.now() - datetime.timedelta(days=settings.BACKUP_GC_GRACE_DAYS)
    kept = removed = 0
    for key in list(store.list_keys(BLOBS)):
        sha = key.rsplit("/", 1)[-1]
        if sha in referenced or not _blob_remove(store, key, sha, before):
            kept += 1
        else:
            removed += 1
        if ctx is not None:
            ctx.progress(kept + removed)
    return {"blobs_kept": kept, "blobs_removed": removed}


def _blob_remove(store: LayerStore, key: str, sha: str, before: datetime.datetime) -> bool:
    with transaction.atomic():
        row = Blob.objects.select_for_update().filter(sha256=sha).first()
        if row is None:
            # Not known here (a store filled by another instance): its grace starts now.
            Blob.objects.create(sha256=sha, size=0, last_used_at=timezone.now())
            return False
        if row.last_used_at > before:
            return False
        store.delete(key)
        row.delete()
    return True
