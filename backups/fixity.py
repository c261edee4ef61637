"""Fixity: every stored object read back and hashed at least once per cycle (SPEC §2).

The arithmetic (README "Fixity"). Beat starts a batch every ``I`` minutes
(``FIXITY_INTERVAL_MINUTES``), so a cycle of ``C`` days
(``FIXITY_CYCLE_DAYS``) holds ``B = floor(C * 24 * 60 / I)`` batches. With
``N`` objects, a batch takes the ``ceil(N / B)`` least recently verified
(never verified first): after ``B`` batches each of the ``N`` has been taken,
because a verified object goes to the back of the order. Objects added
meanwhile join at the front, so each batch also takes at least every object
that would otherwise pass its deadline (a cycle after it was last verified,
or sealed) before the next batch (``due``): the batch size is
``max(ceil(N / B), due)``, capped by ``FIXITY_MAX_BATCH``.

With a budget of ``R`` bytes an hour (``FIXITY_BYTES_PER_HOUR``) a batch
reads at most ``R * I / 60`` bytes (and always one object). A lake of ``S``
bytes then needs ``S / R`` hours per cycle: when that is more than ``C``
days the cycle cannot hold; the plan says so (``warning``), the job logs it
and the fixity page shows it. Random sampling would not prove coverage; this
order does, and the page shows it (objects verified within the cycle).

The objects are the layers' files (of ready datasets) and the backup
store's blobs (``backups/fixity_blobs.py``): one count, one order, one
budget, so the guarantee holds for both.

A batch survives a lost worker: its first attempt writes the ids (and blobs) it took and
its start time in the job's parameters; a later attempt takes the same ids
and skips those already verified since that start, so each is done once.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import DataFile, Dataset, DatasetStatus, FixityFailure, FixityKind
from catalog.services.fixity import fixity_failure_record
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.storage import ObjectMissing, layer_store

from .fixity_blobs import blob_check, blob_outcomes_record, blobs_due, checked_blobs

FIXITY_KIND = "fixity"
FILE, BLOB = "file", "blob"
NEVER = datetime.min.replace(tzinfo=UTC)  # the order of an object never verified
# Files read in flight at once, and how many rows are loaded at a time.
ROWS_PER_BATCH = 500
# Intact files recorded together: two queries per this many, not per file. A
# lost worker costs at most this many reads again (fixity_body's resume).
RECORD_EVERY = 25


@dataclass(frozen=True)
class FixityPlan:
    """What one batch takes and whether the cycle can hold (see module doc)."""

    total_objects: int
    total_bytes: int
    due: int
    batches_per_cycle: int
    batch_size: int
    bytes_budget: int | None
    cycle_possible: bool
    warning: str


def fixity_plan_compute(
    *,
    total_objects: int,
    total_bytes: int,
    due: int,
    cycle_days: int,
    interval_minutes: int,
    bytes_per_hour: int,
    max_batch: int,
) -> FixityPlan:
    """The batch size and byte budget for a lake of this size (pure arithmetic)."""
    batches = max(1, (cycle_days * 24 * 60) // interval_minutes)
    size = min(max_batch, max(math.ceil(total_objects / batches), due))
    budget = bytes_per_hour * interval_minutes // 60 if bytes_per_hour else None
    warnings = []
    if budget is not None and total_bytes > bytes_per_hour * cycle_days * 24:
        days = total_bytes / bytes_per_hour / 24
        warnings.append(
            f"FIXITY_BYTES_PER_HOUR ({bytes_per_hour:,}) reads the lake's {total_bytes:,} bytes "
            f"in {days:.1f} days, more than the {cycle_days}-day cycle: raise the budget."
        )
    if max_batch * batches < total_objects:
        warnings.append(
            f"FIXITY_MAX_BATCH ({max_batch:,}) times {batches:,} batches a cycle is fewer than "
            f"the {total_objects:,} objects: raise it or run batches more often."
        )
    return FixityPlan(
        total_objects=total_objects,
        total_bytes=total_bytes,
        due=due,
        batches_per_cycle=batches,
        batch_size=size,
        bytes_budget=budget,
        cycle_possible=not warnings,
        warning=" ".join(warnings),
    )


def checked_files() -> Any:
    """The files fixity checks: those of ready datasets."""
    return DataFile.objects.filter(dataset__status=DatasetStatus.READY)


def fixity_plan(*, now: datetime | None = None) -> FixityPlan:
    """The plan for a batch starting ``now``: the layers' files and the backup store's
    blobs, from the catalog (six aggregate queries)."""
    now = now or timezone.now()
    files, blobs = checked_files(), checked_blobs()
    totals = files.aggregate(bytes=Sum("size"))
    blob_bytes = blobs.aggregate(bytes=Sum("size"))["bytes"] or 0
    cycle = timedelta(days=settings.FIXITY_CYCLE_DAYS)
    interval = timedelta(minutes=settings.FIXITY_INTERVAL_MINUTES)
    # An object's deadline is a cycle after it was last verified, or sealed.
    deadline = now - cycle + interval
    due = files.filter(
        Q(verified_at__lte=deadline) | Q(verified_at__isnull=True, dataset__sealed_at__lte=deadline)
    )
    return fixity_plan_compute(
        total_objects=files.count() + blobs.count(),
        total_bytes=(totals["bytes"] or 0) + blob_bytes,
        due=due.count() + blobs_due(deadline).count(),
        cycle_days=settings.FIXITY_CYCLE_DAYS,
        interval_minutes=settings.FIXITY_INTERVAL_MINUTES,
        bytes_per_hour=settings.FIXITY_BYTES_PER_HOUR,
        max_batch=settings.FIXITY_MAX_BATCH,
    )


def batch_select(plan: FixityPlan) -> tuple[list[int], list[str]]:
    """Ids of the files and SHA-256 of the blobs this batch verifies, in one order: never
    verified (files, then blobs), then oldest verified, within the budget."""
    candidates = heapq.merge(
        _ordered(checked_files(), "id", plan.batch_size, FILE),
        _ordered(checked_blobs(), "sha256", plan.batch_size, BLOB),
        key=lambda candidate: candidate[0],
    )
    ids: list[int] = []
    shas: list[str] = []
    spent = 0
    for _order, kind, pk, size in itertools.islice(candidates, plan.batch_size):
        if plan.bytes_budget is not None and (ids or shas) and spent + size > plan.bytes_budget:
            break
        if kind == FILE:
            ids.append(pk)
        else:
            shas.append(pk)
        spent += size
    return ids, shas


def _ordered(rows: Any, pk: str, limit: int, kind: str) -> Iterator[tuple[Any, str, Any, int]]:
    """``(order, kind, pk, size)`` of at most ``limit`` never verified, then as many of the
    oldest verified: the order batch_select merges files and blobs by."""
    never = rows.filter(verified_at__isnull=True).order_by(pk).values_list(pk, "size")
    for key, size in never[:limit].iterator(chunk_size=5000):
        yield (0, NEVER), kind, key, size
    oldest = rows.filter(verified_at__isnull=False).order_by("verified_at", pk)
    for key, size, at in oldest.values_list(pk, "size", "verified_at")[:limit].iterator(
        chunk_size=5000
    ):
        yield (1, at), kind, key, size


def _batch_begin(ctx: JobContext) -> tuple[list[int], list[str], datetime, FixityPlan | None]:
    """This job's batch: taken by its first attempt, read back by later ones."""
    params = ctx.parameters
    if "batch" in params:
        cutoff = parse_datetime(params["cutoff"])
        assert cutoff is not None
        return list(params["batch"]), list(params.get("blobs", [])), cutoff, None
    now = timezone.now()
    plan = fixity_plan(now=now)
    ids, shas = batch_select(plan)
    with ctx.hold() as job:
        taken = {"batch": ids, "blobs": shas, "cutoff": now.isoformat()}
        job.parameters = {**job.parameters, **taken}
        Job.objects.filter(pk=job.pk).update(parameters=job.parameters)
    if plan.warning:
        ctx.log(f"warning: {plan.warning}")
    return ids, shas, now, plan


@dataclass(frozen=True)
class Outcome:
    """What reading one file back found."""

    pk: int
    kind: str | None  # None: intact
    found_sha256: str = ""
    overwritten_by: str | None = None


def file_check(datafile: DataFile) -> Outcome:
    """Read the sealed version back, hash it, and ask whether another version covers it.

    Storage errors other than a missing object propagate: the job retries.
    """
    store = layer_store(datafile.dataset.layer)
    try:
        size, digest, current = store.sealed_sha256(
            datafile.storage_key, version_id=datafile.version_id
        )
    except ObjectMissing:
        return Outcome(datafile.pk, FixityKind.MISSING)
    if (size, digest) != (datafile.size, datafile.sha256):
        return Outcome(datafile.pk, FixityKind.MISMATCH, found_sha256=digest)
    if datafile.version_id and current != datafile.version_id:
        return Outcome(datafile.pk, None, overwritten_by=current)
    return Outcome(datafile.pk, None)


def outcome_record(datafile: DataFile, outcome: Outcome, *, found_by: str) -> bool:
    """Record one file's outcome; True if its sealed bytes are intact."""
    if outcome.kind is None:
        intact_record([datafile.pk])
        if outcome.overwritten_by is not None:
            _record(datafile, FixityKind.OVERWRITTEN, found_by, outcome)
        return True
    _record(datafile, outcome.kind, found_by, outcome)
    return False


def intact_record(pks: list[int]) -> None:
    """Files read back intact: verified now, and any failure of theirs is over (bytes
    restored, or a stray version removed since). Two queries, however many files."""
    now = timezone.now()
    DataFile.objects.filter(pk__in=pks).update(verified_at=now)
    FixityFailure.objects.filter(
        datafile_id__in=pks, kind__in=[FixityKind.MISMATCH, FixityKind.MISSING]
    ).filter(resolved_at__isnull=True).update(resolved_at=now)


def _record(datafile: DataFile, kind: str, found_by: str, outcome: Outcome) -> None:
    details: dict[str, str] = {
        FixityKind.MISSING: "is missing from storage",
        FixityKind.MISMATCH: "read back with another SHA-256 than was sealed",
        FixityKind.OVERWRITTEN: (
            f"has another version written over its key ({outcome.overwritten_by}); "
            "lakeweb still reads the sealed one"
        ),
    }
    fixity_failure_record(
        kind=kind,
        found_by=found_by,
        detail=f"'{datafile.path}' of dataset {datafile.dataset_id} {details[kind]}.",
        datafile=datafile,
        found_sha256=outcome.found_sha256,
    )


def _pending(ids: list[int], cutoff: datetime) -> Iterator[list[DataFile]]:
    """The batch's files not verified since ``cutoff``, a slice at a time."""
    for start in range(0, len(ids), ROWS_PER_BATCH):
        chunk = ids[start : start + ROWS_PER_BATCH]
        rows = DataFile.objects.filter(pk__in=chunk).select_related("dataset")
        rows = rows.filter(Q(verified_at__isnull=True) | Q(verified_at__lt=cutoff))
        yield list(rows.order_by("pk"))


def _blobs_pending(shas: list[str], cutoff: datetime) -> Iterator[list[str]]:
    """The batch's blobs not verified since ``cutoff``, a slice at a time."""
    for start in range(0, len(shas), ROWS_PER_BATCH):
        chunk = checked_blobs().filter(sha256__in=shas[start : start + ROWS_PER_BATCH])
        chunk = chunk.filter(Q(verified_at__isnull=True) | Q(verified_at__lt=cutoff))
        yield sorted(chunk.values_list("sha256", flat=True))


def fixity_body(ctx: JobContext) -> dict[str, Any]:
    """Verify one batch (see module doc); each object's outcome recorded as it comes."""
    ids, shas, cutoff, plan = _batch_begin(ctx)
    total = len(ids) + len(shas)
    ctx.progress(0, total, f"verifying {len(ids)} files and {len(shas)} blobs", force=True)
    done = len(ids) - sum(len(rows) for rows in _pending(ids, cutoff))
    if done:
        ctx.log(f"resuming: {done} files verified by an earlier attempt")
    done += _blobs_verify(ctx, shas, cutoff, done=done, total=total)
    with ThreadPoolExecutor(settings.FIXITY_CONCURRENCY, thread_name_prefix="fixity") as pool:
        for rows in _pending(ids, cutoff):
            ctx.check()
            intact: list[int] = []
            # Reads run in threads; rows are written here, on the job's connection.
            for datafile, outcome in zip(rows, pool.map(file_check, rows), strict=True):
                if outcome.kind is None and outcome.overwritten_by is None:
                    intact.append(datafile.pk)  # the common case, recorded a few at a time
                else:
                    outcome_record(datafile, outcome, found_by="fixity")
                done += 1
                if len(intact) >= RECORD_EVERY:
                    intact_record(intact)
                    intact = []
                ctx.progress(done, total)  # written at most once a second
            intact_record(intact)
    datasets_verified_refresh(ids)
    return _result(ids, shas, cutoff, plan)


def _blobs_verify(
    ctx: JobContext, shas: list[str], cutoff: datetime, *, done: int, total: int
) -> int:
    """The batch's blobs read back (backups/fixity_blobs.py); how many were taken."""
    taken = 0
    with ThreadPoolExecutor(settings.FIXITY_CONCURRENCY, thread_name_prefix="fixity") as pool:
        for chunk in _blobs_pending(shas, cutoff):
            ctx.check()
            blob_outcomes_record(pool.map(blob_check, chunk))
            taken += len(chunk)
            ctx.progress(done + taken, total)
    return taken


def datasets_verified_refresh(ids: list[int]) -> None:
    """Write ``files_verified_at`` of the datasets whose files the batch verified.

    One aggregate over those datasets' files, in the worker, so that a
    dataset page reads one field instead of all its files.
    """
    datasets = set()
    for start in range(0, len(ids), ROWS_PER_BATCH * 10):
        chunk = ids[start : start + ROWS_PER_BATCH * 10]
        datasets |= set(DataFile.objects.filter(pk__in=chunk).values_list("dataset_id", flat=True))
    summary = (
        DataFile.objects.filter(dataset_id__in=datasets)
        .values("dataset_id")
        .annotate(never=Count("id", filter=Q(verified_at__isnull=True)), oldest=Min("verified_at"))
    )
    for row in summary:
        oldest = row["oldest"] if row["never"] == 0 else None
        Dataset.objects.filter(pk=row["dataset_id"]).update(files_verified_at=oldest)


def _result(
    ids: list[int], shas: list[str], cutoff: datetime, plan: FixityPlan | None
) -> dict[str, Any]:
    verified = DataFile.objects.filter(pk__in=ids, verified_at__gte=cutoff)
    blobs = checked_blobs().filter(sha256__in=shas, verified_at__gte=cutoff)
    failures = FixityFailure.objects.filter(found_by="fixity", found_at__gte=cutoff)
    blob_bytes = blobs.aggregate(total=Sum("size"))["total"] or 0
    result: dict[str, Any] = {
        "batch": len(ids) + len(shas),
        "blobs": len(shas),
        "verified": verified.count() + blobs.count(),
        "bytes": (verified.aggregate(total=Sum("size"))["total"] or 0) + blob_bytes,
        "failures": failures.count(),
    }
    if plan is not None:
        result["plan"] = asdict(plan)
    return result
