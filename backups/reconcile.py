"""Reconciliation: objects no catalog row names, and rows whose object is missing.

Each layer's ``datasets/`` objects are listed in key order and merged with the
file rows read in the same (byte) order, so neither side is held in memory:
a listed key with no row is an orphan; a row of a ready dataset with no
object is missing. Orphans come from failed promotions, cancelled uploads and
interrupted writes. They are removed where the layer allows it, never in raw
(write-once, under Object Lock retention on S3), where they are reported;
an object younger than ``FIXITY_ORPHAN_GRACE_HOURS``, or of a dataset still
being written, is left alone (its row may not be written yet).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Collate
from django.utils import timezone

from catalog.models import DataFile, Dataset, DatasetStatus, FixityFailure, FixityKind, Layer
from catalog.services.fixity import fixity_failure_record
from lakeweb.jobs.runner import JobContext
from lakeweb.storage import ListedObject, layer_store

RECONCILE_KIND = "reconcile"
PREFIX = "datasets/"
PAGE = 1000


def _rows(layer: str) -> QuerySet[DataFile]:
    """Rows that name objects in ``layer``, ordered by key bytes as S3 lists them."""
    rows = DataFile.objects.filter(dataset__layer=layer).exclude(
        dataset__status=DatasetStatus.DELETED
    )
    # PostgreSQL sorts text by the database's collation; "C" is byte order,
    # which is UTF-8 code point order, as S3 (and SQLite's default) sorts.
    key = Collate("storage_key", "C") if connection.vendor == "postgresql" else "storage_key"
    return rows.order_by(key)


def merge(
    listed: Iterator[ListedObject], rows: Iterator[tuple[str, int, Any]]
) -> Iterator[tuple[ListedObject | None, tuple[str, int, Any] | None]]:
    """Pairs (object, row) by key: (object, None) for an orphan, (None, row) for a missing one."""
    row = next(rows, None)
    for obj in listed:
        while row is not None and row[0].encode() < obj.key.encode():
            yield None, row
            row = next(rows, None)
        if row is not None and row[0] == obj.key:
            row = next(rows, None)
            continue
        yield obj, None
    while row is not None:
        yield None, row
        row = next(rows, None)


def layer_reconcile(layer: str) -> dict[str, int]:
    """Reconcile one layer; the counts of what was found."""
    store = layer_store(layer)
    rows = _rows(layer).values_list("storage_key", "id", "dataset__status")
    counts = {"orphans": 0, "removed": 0, "missing": 0}
    pairs = merge(store.list_objects(PREFIX), rows.iterator(chunk_size=PAGE))
    while page := list(islice(pairs, PAGE)):
        orphans = [obj for obj, _row in page if obj is not None]
        missing = [row[1] for obj, row in page if row is not None and row[2] == "ready"]
        removed = _orphans_handle(layer, orphans)
        counts["orphans"] += len(orphans) - removed[1]
        counts["removed"] += removed[0]
        counts["missing"] += _missing_record(missing)
    return counts


def _orphans_handle(layer: str, orphans: list[ListedObject]) -> tuple[int, int]:
    """Record and (outside raw) remove orphans; (removed, skipped: too young or in progress)."""
    statuses = _statuses(orphans)
    young = timezone.now() - timedelta(hours=settings.FIXITY_ORPHAN_GRACE_HOURS)
    removed = skipped = 0
    for obj in orphans:
        owner = _dataset_id(obj.key)
        if obj.modified > young or (owner is not None and statuses.get(owner) == "uploading"):
            skipped += 1
            continue
        removed += _orphan(layer, obj)
    return removed, skipped


def _orphan(layer: str, obj: ListedObject) -> int:
    removable = layer != Layer.RAW
    what = "removed" if removable else "left in place: raw is write-once"
    fixity_failure_record(
        kind=FixityKind.ORPHAN,
        found_by="reconcile",
        detail=f"{obj.key} ({obj.size:,} bytes) in {layer} is named by no file row; {what}.",
        layer=layer,
        storage_key=obj.key,
    )
    if not removable:
        return 0
    layer_store(layer).delete(obj.key)
    open_ = FixityFailure.objects.filter(
        kind=FixityKind.ORPHAN, layer=layer, storage_key=obj.key, resolved_at__isnull=True
    )
    open_.update(removed=True, resolved_at=timezone.now())
    return 1


def _dataset_id(key: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key[len(PREFIX) :].split("/", 1)[0])
    except ValueError:
        return None


def _statuses(orphans: list[ListedObject]) -> dict[uuid.UUID, str]:
    ids = {pk for pk in (_dataset_id(obj.key) for obj in orphans) if pk is not None}
    return dict(Dataset.objects.filter(pk__in=ids).values_list("pk", "status"))


def _missing_record(ids: list[int]) -> int:
    for datafile in DataFile.objects.filter(pk__in=ids).select_related("dataset"):
        fixity_failure_record(
            kind=FixityKind.MISSING,
            found_by="reconcile",
            detail=f"'{datafile.path}' of dataset {datafile.dataset_id} is missing from storage.",
            datafile=datafile,
        )
    return len(ids)


def reconcile_body(ctx: JobContext) -> dict[str, Any]:
    """Reconcile every layer (safe to run again: failures are recorded once)."""
    result: dict[str, Any] = {}
    layers = list(settings.LAKEWEB_LAYERS)
    for done, layer in enumerate(layers):
        ctx.check()
        ctx.progress(done, len(layers), f"reconciling {layer}", force=True)
        result[layer] = layer_reconcile(layer)
        ctx.log(f"{layer}: {result[layer]}")
    ctx.progress(len(layers), len(layers), force=True)
    return result
