"""Restore drills: proof that the newest snapshot restores, byte for byte (SPEC §2 Restore).

A drill is a job. It takes a sample of the newest complete snapshot's
datasets (half the oldest-drilled, never-drilled first, the rest at random:
``DRILL_SAMPLE_SIZE``), restores each into a scratch folder on the worker
(``DRILL_SCRATCH_DIR``, not a layer, never in the catalog) with the restore's
own copy-and-verify (:func:`backups.services.restore.blobs_restore`), checks
the snapshot's ``catalog.json`` against its manifest, records the outcome once
(:class:`backups.models.Drill`), and removes the scratch copy. A failed drill
mails the admins.

The sample is written in the job's parameters by the first attempt, so an
attempt after a lost worker drills the same datasets; it starts by removing
what the lost one left in scratch, and finds the outcome already recorded if
the lost one got that far. A drill that ends failed or cancelled, whatever
stopped it, has its scratch removed by the failure hook.
"""

from __future__ import annotations

import functools
import math
import secrets
import shutil
import time
import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from catalog.models import DatasetStatus
from catalog.services.fixity import admins_mail
from lakeweb.errors import ActionRefused, ChecksumMismatch, PermissionRefused
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import CANCELLED, JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import FilesystemLayerStore, ObjectMissing
from lakeweb.storage.backupstore import backup_store

from ..models import BackupJob, Drill, DrilledDataset, DrillResult
from .restore import blobs_restore
from .snapshots import Snapshot, snapshot_open

DRILL_KIND = "drill"
SCRATCH = "drills"


class DrillFailed(Exception):
    """Some of the sample did not restore byte for byte (each named in the drill's row)."""


def drill_request(*, user: User | None) -> Drill:
    """Queue a drill now (the schedule's, ``user`` None, or a curator's); the live one if
    one is queued or running already."""
    if user is not None and not user.has_perm("backups.trigger_backup"):
        raise PermissionRefused("Only curators and admins can run restore drills.")
    with transaction.atomic():
        live = Drill.objects.filter(job__status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        found = live.select_related("job").order_by("job__created_at").first()
        if found is not None:
            return found
        return Drill.objects.create(job=job_request(kind=DRILL_KIND, requested_by=user))


def drill_scratch() -> FilesystemLayerStore:
    """The scratch folder drills restore into: a store of its own, outside the layers."""
    folder = settings.DRILL_SCRATCH_DIR
    return FilesystemLayerStore(SCRATCH, folder.parent, folder=folder)


def drill_sample(ids: list[str], *, size: int) -> list[str]:
    """``size`` of ``ids``: the oldest-drilled half (never drilled first, in the given
    order), the rest drawn at random from the others."""
    drilled = dict(
        DrilledDataset.objects.filter(dataset_id__in=ids).values_list("dataset_id", "drilled_at")
    )
    never = [i for i in ids if uuid.UUID(i) not in drilled]
    by_age = never + sorted(set(ids) - set(never), key=lambda i: (drilled[uuid.UUID(i)], i))
    oldest = by_age[: math.ceil(size / 2)]
    taken = set(oldest)
    others = [i for i in ids if i not in taken]
    drawn = secrets.SystemRandom().sample(others, min(size - len(oldest), len(others)))
    return oldest + drawn


def drill_body(ctx: JobContext) -> dict[str, Any]:
    """Restore the sample into scratch, verify it, record the outcome once, remove scratch."""
    drill = Drill.objects.get(job_id=ctx.job.pk)
    _scratch_sweep()
    if drill.result:  # a lost attempt recorded it: the drill is done
        return _summary(drill)
    snapshot, sample = _sample_begin(ctx)
    started = time.monotonic()
    failures, files, size = _sample_verify(ctx, snapshot, sample)
    _scratch_remove(ctx.job.pk)
    drill = _outcome_record(ctx, sample, failures, files, size, time.monotonic() - started)
    if failures:
        first = failures[0]
        raise DrillFailed(
            f"{len(failures)} of {len(sample)} datasets did not restore byte for byte; "
            f"{first['dataset'] or 'the snapshot'}: {first['reason']}"
        )
    return _summary(drill)


def _newest_snapshot() -> Snapshot:
    backup = (
        BackupJob.objects.filter(complete=True, removed_at__isnull=True)
        .order_by("-cut", "-job__created_at")
        .first()
    )
    if backup is None:
        raise ActionRefused("There is no complete snapshot to drill: back up first.")
    return snapshot_open(backup.prefix)


def _sample_begin(ctx: JobContext) -> tuple[Snapshot, list[str]]:
    """The snapshot and the sample: chosen by the first attempt, read back by later ones."""
    params = ctx.parameters
    if "datasets" in params:
        return snapshot_open(params["snapshot"]), list(params["datasets"])
    snapshot = _newest_snapshot()
    ready = [d["id"] for d in snapshot.manifest["datasets"] if d["status"] == DatasetStatus.READY]
    sample = drill_sample(ready, size=settings.DRILL_SAMPLE_SIZE)
    with ctx.hold() as job:
        job.parameters = {**job.parameters, "snapshot": snapshot.name, "datasets": sample}
        Job.objects.filter(pk=job.pk).update(parameters=job.parameters)
        Drill.objects.filter(job_id=job.pk).update(snapshot=snapshot.name, datasets=sample)
    ctx.log(f"drilling {len(sample)} datasets of snapshot {snapshot.name}")
    return snapshot, sample


def _sample_verify(
    ctx: JobContext, snapshot: Snapshot, sample: list[str]
) -> tuple[list[dict[str, str]], int, int]:
    """Each dataset restored into scratch and verified, then removed from it; the
    failures (one per dataset, naming the file), and the files and bytes verified."""
    scratch = drill_scratch()
    failures = _catalog_check(snapshot)
    entries = [e for e in (snapshot.dataset(i) for i in sample) if e is not None]
    total = sum(len(e["files"]) for e in entries)
    ctx.progress(0, total, f"restoring {len(entries)} datasets into scratch", force=True)
    done = files = size = 0
    for entry in entries:
        prefix = f"{ctx.job.pk}/{entry['id']}/"
        try:
            blobs_restore(
                entry,
                entry["files"],
                progress=functools.partial(_progress_from, ctx, done),
                target=scratch,
                prefix=prefix,
            )
        except (ChecksumMismatch, ObjectMissing) as exc:
            failures.append({"dataset": entry["id"], "reason": str(exc)})
            ctx.log(f"dataset {entry['id']} did not restore: {exc}")
        else:
            files += len(entry["files"])
            size += sum(f["size"] for f in entry["files"])
        scratch.delete_prefix(prefix)  # scratch holds one dataset at a time
        done += len(entry["files"])
        ctx.progress(done, total)
    return failures, files, size


def _progress_from(ctx: JobContext, start: int, n: int) -> None:
    ctx.progress(start + n)


def _catalog_check(snapshot: Snapshot) -> list[dict[str, str]]:
    """The snapshot's catalog.json read back against the SHA-256 its manifest gives."""
    expected = snapshot.manifest["catalog"]
    try:
        size, digest = backup_store().sha256(snapshot.prefix + expected["key"])
    except ObjectMissing:
        return [{"dataset": "", "reason": f"{expected['key']} is missing from the snapshot"}]
    if (size, digest) != (expected["size"], expected["sha256"]):
        reason = f"{expected['key']} has SHA-256 {digest}, expected {expected['sha256']}"
        return [{"dataset": "", "reason": reason}]
    return []


def _outcome_record(
    ctx: JobContext,
    sample: list[str],
    failures: list[dict[str, str]],
    files: int,
    size: int,
    seconds: float,
) -> Drill:
    with ctx.hold():
        drill = Drill.objects.select_for_update().get(job_id=ctx.job.pk)
        if drill.result:
            return drill
        drill.file_count, drill.byte_count, drill.seconds = files, size, round(seconds, 3)
        drill.failures = failures
        drill.result = DrillResult.FAILED if failures else DrillResult.PASSED
        drill.finished_at = timezone.now()
        drill.save()
        DrilledDataset.objects.bulk_create(
            [DrilledDataset(dataset_id=i, drilled_at=drill.finished_at) for i in sample],
            update_conflicts=True,
            unique_fields=["dataset_id"],
            update_fields=["drilled_at"],
        )
    return drill


def _summary(drill: Drill) -> dict[str, Any]:
    return {
        "snapshot": drill.snapshot,
        "result": drill.result,
        "datasets": len(drill.datasets),
        "files": drill.file_count,
        "bytes": drill.byte_count,
        "failures": len(drill.failures),
    }


def drill_on_fail(job: Job, reason: str) -> None:
    """A drill that ended failed or cancelled: scratch removed, the outcome recorded if no
    attempt got that far, and the admins mailed (once) unless it was cancelled."""
    _scratch_remove(job.pk)
    Drill.objects.filter(job_id=job.pk, result="").update(
        result=DrillResult.FAILED,
        failures=[{"dataset": "", "reason": reason}],
        finished_at=timezone.now(),
    )
    if reason == CANCELLED or not Drill.objects.filter(job_id=job.pk, alerted=False).update(
        alerted=True
    ):
        return
    drill = Drill.objects.get(job_id=job.pk)
    lines = "\n".join(f"- {f['dataset'] or 'snapshot'}: {f['reason']}" for f in drill.failures)
    admins_mail(
        subject=f"[lakeweb] restore drill failed ({drill.snapshot or 'no snapshot'})",
        body=f"The restore drill of job {job.pk} failed: {reason}\n\n{lines}\n",
    )


def _scratch_remove(job_id: Any) -> None:
    shutil.rmtree(settings.DRILL_SCRATCH_DIR / str(job_id), ignore_errors=True)


def _scratch_sweep() -> None:
    """Empty the scratch folder: one drill is live at a time (drill_request), so whatever
    is there was left by a lost worker, this drill's earlier attempt or another's."""
    root = settings.DRILL_SCRATCH_DIR
    if root.is_dir():
        for folder in root.iterdir():
            shutil.rmtree(folder, ignore_errors=True)
