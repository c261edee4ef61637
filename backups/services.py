"""Backups: snapshots of the whole lake (objects and catalog) into the archive layer.

A snapshot lives under ``backups/<kind>/<label>/``: every stored object at
``objects/<layer>/<key>``, the catalog as ``catalog.json``, and
``manifest.json`` written last, so a reader that finds the manifest knows
the writer is done (SPEC §2).
"""

from __future__ import annotations

import datetime
import json
import logging
import tempfile
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core import serializers
from django.db import transaction
from django.utils import timezone

from catalog.models import Activity, DataFile, DatasetStatus
from catalog.services import ChecksumMismatch, PermissionRefused, provenance_record
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import LayerStore, StorageError, layer_store
from lakeweb.storage.copy import copy_verified

from .models import BackupJob, BackupKind

logger = logging.getLogger(__name__)

# Models whose rows make up the catalog in a snapshot, parents first.
CATALOG_MODELS = (
    "auth.group",
    "auth.user",
    "catalog.source",
    "catalog.tag",
    "catalog.metadataform",
    "catalog.metadatafield",
    "catalog.metadataformversion",
    "catalog.dataset",
    "catalog.datafile",
    "catalog.promotion",
    "catalog.provenanceevent",
)
PROGRESS_EVERY = 50


def backup_request(*, kind: str, user: User | None) -> BackupJob:
    """Queue a backup job (sent to a worker after commit; by the sweep if the broker is down)."""
    if user is not None and not user.has_perm("backups.trigger_backup"):
        raise PermissionRefused("Only curators and admins can trigger backups.")
    with transaction.atomic():
        job = job_request(kind="backup", requested_by=user, parameters={"kind": kind})
        backup = BackupJob.objects.create(job=job, kind=kind)
    return backup


def snapshot_prefix(*, kind: str, when: datetime.datetime) -> str:
    """``backups/daily/<date>/``, ``backups/weekly/<ISO week>/`` or ``backups/manual/<time>/``."""
    local = timezone.localtime(when)
    if kind == BackupKind.DAILY:
        label = local.date().isoformat()
    elif kind == BackupKind.WEEKLY:
        year, week, _ = local.isocalendar()
        label = f"{year}-W{week:02d}"
    else:
        label = local.strftime("%Y-%m-%dT%H%M%S")
    return f"backups/{kind}/{label}/"


def _copy_objects(ctx: JobContext, job: BackupJob, archive: LayerStore) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    files = DataFile.objects.filter(dataset__status=DatasetStatus.READY).select_related("dataset")
    total = files.count()
    ctx.progress(0, total, f"copying {total} objects", force=True)
    for datafile in files.order_by("dataset__layer", "storage_key").iterator():
        path = f"objects/{datafile.dataset.layer}/{datafile.storage_key}"
        try:
            sha256 = copy_verified(
                source=layer_store(datafile.dataset.layer),
                key=datafile.storage_key,
                target=archive,
                target_key=job.prefix + path,
                sha256=datafile.sha256,
                size=datafile.size,
            )
        except (StorageError, ChecksumMismatch) as exc:
            job.errors.append(f"{path}: {exc}")
            ctx.log(f"{path}: {exc}")
            continue
        entries.append({"path": path, "size": datafile.size, "sha256": sha256})
        job.bytes_copied += datafile.size
        if len(entries) % PROGRESS_EVERY == 0:
            _save_progress(job, len(entries))
        ctx.progress(len(entries) + len(job.errors), total)
    return entries


def _save_progress(job: BackupJob, count: int) -> None:
    job.object_count = count
    job.error_count = len(job.errors)
    job.save(update_fields=["object_count", "bytes_copied", "error_count", "errors"])


def _write_catalog(archive: LayerStore, key: str) -> dict[str, Any]:
    """Serialise the catalog rows to a spooled temp file, then store it."""
    from django.apps import apps

    with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024, mode="w+b") as spool:
        objects = (
            obj
            for label in CATALOG_MODELS
            for obj in apps.get_model(label).objects.order_by("pk").iterator()
        )
        text = _TextToBytes(spool)
        serializers.serialize("json", objects, stream=text, use_natural_foreign_keys=False)
        spool.seek(0)
        stored = archive.save(key, spool, content_type="application/json")
    return {"size": stored.size, "sha256": stored.sha256}


class _TextToBytes:
    """The JSON serializer writes text; the spool holds bytes."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, text: str) -> None:
        self.raw.write(text.encode())


def _write_manifest(job: BackupJob, archive: LayerStore, files: list[dict[str, Any]]) -> None:
    manifest = {
        "write_date": timezone.now().isoformat(),
        "kind": job.kind,
        "job": str(job.job_id),
        "prefix": job.prefix,
        "file_count": len(files),
        "total_size": sum(entry["size"] for entry in files),
        "errors": job.errors,
        "files": files,
    }
    body = json.dumps(manifest, indent=1).encode()
    archive.put_bytes(job.prefix + "manifest.json", body, content_type="application/json")


def backup_body(ctx: JobContext) -> dict[str, Any]:
    """Copy every object and the catalog into a snapshot, then its manifest.

    Run again after a lost worker, it writes the same snapshot again from the
    start (the manifest, written last, is what makes a snapshot complete).
    """
    job = BackupJob.objects.select_related("job").get(job=ctx.job)
    job.prefix = job.prefix or snapshot_prefix(
        kind=job.kind, when=ctx.job.started_at or timezone.now()
    )
    job.errors, job.bytes_copied = [], 0
    job.save(update_fields=["prefix", "errors", "bytes_copied"])
    archive = layer_store("archive")
    files = _copy_objects(ctx, job, archive)
    catalog = _write_catalog(archive, job.prefix + "catalog.json")
    files.append({"path": "catalog.json", **catalog})
    _write_manifest(job, archive, files)
    with ctx.hold():
        _backup_finish(job, object_count=len(files))
    backup_prune(kind=job.kind)
    if job.errors:
        # Every object that could be copied is in the snapshot; the job says what was not.
        raise BackupIncomplete(f"{len(job.errors)} objects could not be copied: {job.errors[0]}")
    return {"prefix": job.prefix, "objects": len(files), "bytes": job.bytes_copied}


class BackupIncomplete(Exception):
    """The snapshot was written without some objects (listed in its manifest)."""


def _backup_finish(job: BackupJob, *, object_count: int) -> None:
    job.object_count = object_count
    job.error_count = len(job.errors)
    job.save(update_fields=["object_count", "error_count", "errors", "bytes_copied"])
    provenance_record(
        activity=Activity.BACKUP,
        actor=job.job.requested_by,
        target_layer="archive",
        parameters={"job": str(job.job_id), "prefix": job.prefix, "objects": object_count},
        note=f"{job.kind} backup: {object_count} objects, {len(job.errors)} errors",
    )


def backup_on_fail(job: Job, reason: str) -> None:
    """A backup that failed as a whole (not object by object): its row says why too."""
    backup = BackupJob.objects.filter(job=job).first()
    if backup is not None and not backup.errors:
        backup.errors = [*backup.errors, reason[:2000]]
        backup.error_count = len(backup.errors)
        backup.save(update_fields=["errors", "error_count"])


def backup_prune(*, kind: str) -> list[str]:
    """Remove snapshots of a kind beyond its retention (keep N days / N weeks)."""
    keep: dict[str, int] = {
        BackupKind.DAILY: settings.BACKUP_KEEP_DAILY,
        BackupKind.WEEKLY: settings.BACKUP_KEEP_WEEKLY,
    }
    if kind not in keep:
        return []
    archive = layer_store("archive")
    root = f"backups/{kind}/"
    labels = sorted({key[len(root) :].split("/", 1)[0] for key in archive.list_keys(root)})
    removed = labels[: max(len(labels) - keep[kind], 0)]
    for label in removed:
        archive.delete_prefix(f"{root}{label}/")
    return removed
