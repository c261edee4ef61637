"""Promotion: copy a dataset into the adjacent next layer (SPEC §2), as a job.

``dataset_promote_request`` checks, writes the promotion and its job in one
transaction (the job is the outbox) and returns; a worker runs
``promotion_body`` through the job runner. The body is safe to run again
after a crash: the target dataset is made once, files already copied and
recorded are kept, the rest are copied (several at a time, server-side where
the store can), and sealing happens once, under the job's lock.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction

from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import layer_store
from lakeweb.storage.cold import COLD_CLASSES, cold_tier
from lakeweb.storage.copy import copy_verified_object

from ..models import Activity, DataFile, Dataset, DatasetStatus, Layer, Promotion
from .datasets import dataset_create, dataset_fail, dataset_seal, dataset_storage_key
from .errors import ActionRefused, PermissionRefused
from .events import provenance_record

# Rows written (and progress reported) per batch of finished copies.
PROMOTE_BATCH = 64


def promotion_permission(*, source_layer: str) -> str:
    """The permission a promotion out of ``source_layer`` needs."""
    if source_layer == Layer.RAW:
        return "catalog.promote_to_processed"
    return "catalog.promote_onward"


def dataset_promote_request(
    *, dataset: Dataset, user: User, target_layer: str | None = None
) -> Promotion:
    """Queue a promotion of a ready dataset to its next layer."""
    next_layer = dataset.next_layer
    target_layer = target_layer or next_layer
    if target_layer not in Layer.values:
        raise ActionRefused(f"'{target_layer}' is not a layer.")
    if target_layer != next_layer:
        allowed = f"only to {next_layer}" if next_layer else "no further"
        raise ActionRefused(
            f"A {dataset.layer} dataset can be promoted {allowed}, not to {target_layer}: "
            "promotions go one layer at a time."
        )
    if dataset.status != DatasetStatus.READY:
        raise ActionRefused(f"Only ready datasets can be promoted; this one is {dataset.status}.")
    if not user.has_perm(promotion_permission(source_layer=dataset.layer)):
        who = "members" if dataset.layer == Layer.RAW else "curators"
        raise PermissionRefused(f"Only {who} can promote {dataset.layer} datasets.")
    try:
        with transaction.atomic():
            job = job_request(
                kind="promotion",
                requested_by=user,
                parameters={"source": str(dataset.pk), "target_layer": target_layer},
                subject=dataset,
                unique_key=Promotion.unique_key(source=dataset, target_layer=target_layer),
            )
            promotion = Promotion.objects.create(job=job, source=dataset, target_layer=target_layer)
    except IntegrityError:
        raise ActionRefused(
            f"This dataset is already promoted (or being promoted) to {target_layer}."
        ) from None
    return promotion


def promotion_body(ctx: JobContext) -> dict[str, Any]:
    """Copy every file, verify each SHA-256, seal once, record provenance."""
    promotion = _target_ensure(ctx.job)
    target = promotion.target
    assert target is not None
    if target.status == DatasetStatus.READY:
        return _result(target)  # sealed by an attempt whose end was not recorded
    done = set(target.files.values_list("path", flat=True))
    todo = list(promotion.source.files.exclude(path__in=done).order_by("path"))
    total = len(done) + len(todo)
    ctx.progress(len(done), total, f"copying {len(todo)} files", force=True)
    if len(done):
        ctx.log(f"resuming: {len(done)} files already copied")
    source_store, target_store = layer_store(promotion.source.layer), layer_store(target.layer)

    def copy(source_file: DataFile) -> DataFile:
        key = dataset_storage_key(dataset=target, path=source_file.path)
        copied = copy_verified_object(
            source=source_store,
            key=source_file.storage_key,
            target=target_store,
            target_key=key,
            sha256=source_file.sha256,
            size=source_file.size,
            version_id=source_file.version_id,
        )
        if target.storage_class:  # verified in the store's standard class, then chilled
            cold_tier(target_store).chill(key, target.storage_class)
        return DataFile(
            dataset=target,
            path=source_file.path,
            folder=source_file.folder,
            size=source_file.size,
            sha256=source_file.sha256,
            content_type=source_file.content_type,
            storage_key=key,
            version_id=copied.version_id,
        )

    _copy_all(ctx, todo, copy, done=len(done), total=total)
    with ctx.hold():
        _promotion_seal(promotion)
    return _result(target)


def _copy_all(
    ctx: JobContext,
    todo: list[DataFile],
    copy: Callable[[DataFile], DataFile],
    *,
    done: int,
    total: int,
) -> None:
    """Keep PROMOTE_CONCURRENCY copies in flight; record finished ones a batch at a time.

    A copy that fails stops the rest (its error is raised); what was recorded
    stays, so the next attempt copies only the others.
    """
    workers = max(1, settings.PROMOTE_CONCURRENCY)
    files = iter(todo)
    finished_rows: list[DataFile] = []
    with ThreadPoolExecutor(workers, thread_name_prefix="promote") as pool:
        running = {pool.submit(copy, file) for file in islice(files, workers)}
        while running:
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                finished_rows.append(future.result())
                following = next(files, None)
                if following is not None:
                    running.add(pool.submit(copy, following))
            if len(finished_rows) >= PROMOTE_BATCH or not running:
                DataFile.objects.bulk_create(finished_rows)
                done += len(finished_rows)
                finished_rows = []
                ctx.progress(done, total)


def _result(target: Dataset) -> dict[str, Any]:
    return {"target": str(target.pk), "files": target.file_count, "bytes": target.total_size}


def _target_ensure(job: Job) -> Promotion:
    """The promotion with its target dataset, made by the first attempt only."""
    with transaction.atomic():
        promotion = Promotion.objects.select_for_update().select_related("source").get(job=job)
        if promotion.target_id is None:
            source = promotion.source
            promotion.target = dataset_create(
                name=source.name,
                description=source.description,
                source=source.source,
                external_id=source.external_id,
                layer=promotion.target_layer,
                owner=source.owner,
                metadata=source.metadata,
                form_version=source.form_version,
                tags=[tag.name for tag in source.tags.all()],
                derived_from=[source],
            )
            if promotion.target_layer == Layer.ARCHIVE and settings.ARCHIVE_STORAGE_CLASS in (
                COLD_CLASSES
            ):
                promotion.target.storage_class = settings.ARCHIVE_STORAGE_CLASS
                promotion.target.save(update_fields=["storage_class"])
            promotion.save(update_fields=["target"])
        return Promotion.objects.select_related("source", "target").get(pk=promotion.pk)


def _promotion_seal(promotion: Promotion) -> None:
    target = promotion.target
    assert target is not None
    dataset_seal(dataset=target)
    provenance_record(
        activity=Activity.PROMOTION,
        actor=promotion.job.requested_by,
        dataset=target,
        used=[promotion.source],
        source_layer=promotion.source.layer,
        target_layer=target.layer,
        parameters={
            "promotion": str(promotion.pk),
            "job": str(promotion.job_id),
            "files": target.file_count,
        },
    )


def promotion_on_fail(job: Job, reason: str) -> None:
    """A promotion that cannot finish: its unsealed target is marked failed, its copies removed."""
    promotion = Promotion.objects.select_related("target").filter(job=job).first()
    if promotion is not None and promotion.target is not None:
        dataset_fail(dataset=promotion.target, reason=f"Promotion failed: {reason}")
