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
from django.contrib.auth.models import AbstractBaseUser
from django.core import serializers
from django.db import transaction
from django.utils import timezone

from catalog.models import DataFile, DatasetStatus
from catalog.services import ChecksumMismatch, PermissionRefused
from lakeweb.storage import LayerStore, StorageError, layer_store
from provenance.models import Activity
from provenance.services import provenance_record

from .models import BackupJob, BackupKind, BackupStatus

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
    "provenance.provenanceevent",
)
PROGRESS_EVERY = 50


def backup_request(*, kind: str, user: AbstractBaseUser | None) -> BackupJob:
    """Create a queued backup job and hand it to a worker after commit."""
    if user is not None and not user.has_perm("backups.trigger_backup"):
        raise PermissionRefused("Only curators and admins can trigger backups.")
    with transaction.atomic():
        job = BackupJob.objects.create(kind=kind, triggered_by=user)
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: BackupJob) -> None:
    from .tasks import backup_run_task

    backup_run_task.delay(str(job.pk))


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


def _backup_claim(job_id: str) -> BackupJob | None:
    with transaction.atomic():
        job = BackupJob.objects.select_for_update().get(pk=job_id)
        if job.status in (BackupStatus.SUCCEEDED, BackupStatus.FAILED):
            return None
        job.status = BackupStatus.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.prefix = job.prefix or snapshot_prefix(kind=job.kind, when=job.started_at)
        job.save(update_fields=["status", "started_at", "prefix"])
        return job


def _copy_object(datafile: DataFile, archive: LayerStore, key: str) -> str:
    source = layer_store(datafile.dataset.layer)
    sha256 = source.copy_to(datafile.storage_key, archive, key)
    if sha256 is None:
        _size, sha256 = archive.sha256(key)
    if sha256 != datafile.sha256:
        raise ChecksumMismatch(f"{datafile.storage_key}: copy has SHA-256 {sha256}")
    return sha256


def _copy_objects(job: BackupJob, archive: LayerStore) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    files = DataFile.objects.filter(dataset__status=DatasetStatus.READY).select_related("dataset")
    for datafile in files.order_by("dataset__layer", "storage_key").iterator():
        path = f"objects/{datafile.dataset.layer}/{datafile.storage_key}"
        try:
            sha256 = _copy_object(datafile, archive, job.prefix + path)
        except (StorageError, ChecksumMismatch) as exc:
            job.errors.append(f"{path}: {exc}")
            continue
        entries.append({"path": path, "size": datafile.size, "sha256": sha256})
        job.bytes_copied += datafile.size
        if len(entries) % PROGRESS_EVERY == 0:
            _save_progress(job, len(entries))
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
        "job": str(job.pk),
        "prefix": job.prefix,
        "file_count": len(files),
        "total_size": sum(entry["size"] for entry in files),
        "errors": job.errors,
        "files": files,
    }
    body = json.dumps(manifest, indent=1).encode()
    archive.put_bytes(job.prefix + "manifest.json", body, content_type="application/json")


def backup_run(*, job_id: str) -> BackupJob | None:
    """Copy every object and the catalog into a snapshot, then its manifest."""
    job = _backup_claim(job_id)
    if job is None:
        return None
    archive = layer_store("archive")
    job.errors, job.bytes_copied = [], 0
    files = _copy_objects(job, archive)
    catalog = _write_catalog(archive, job.prefix + "catalog.json")
    files.append({"path": "catalog.json", **catalog})
    _write_manifest(job, archive, files)
    _backup_finish(job, object_count=len(files))
    backup_prune(kind=job.kind)
    return job


@transaction.atomic
def _backup_finish(job: BackupJob, *, object_count: int) -> None:
    job.object_count = object_count
    job.error_count = len(job.errors)
    job.status = BackupStatus.FAILED if job.errors else BackupStatus.SUCCEEDED
    job.finished_at = timezone.now()
    job.save()
    provenance_record(
        activity=Activity.BACKUP,
        actor=job.triggered_by,
        target_layer="archive",
        parameters={"job": str(job.pk), "prefix": job.prefix, "objects": object_count},
        note=f"{job.kind} backup: {object_count} objects, {len(job.errors)} errors",
    )


def backup_fail(*, job_id: str, reason: str) -> None:
    """Mark a backup job failed with a readable reason."""
    with transaction.atomic():
        job = BackupJob.objects.select_for_update().get(pk=job_id)
        if job.status == BackupStatus.SUCCEEDED:
            return
        job.status = BackupStatus.FAILED
        job.errors = [*job.errors, reason[:2000]]
        job.error_count = len(job.errors)
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "errors", "error_count", "finished_at"])


def backup_prune(*, kind: str) -> list[str]:
    """Remove snapshots of a kind beyond its retention (keep N days / N weeks)."""
    keep = {
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
