"""Promotion: copy a dataset into the adjacent next layer (SPEC §2).

``dataset_promote_request`` checks and queues; a worker runs
``promotion_run``, which is safe to run again after a crash: files already
copied are kept, the rest are copied, and a finished promotion is left alone.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from lakeweb.storage import layer_store
from provenance.models import Activity
from provenance.services import provenance_record

from ..models import DataFile, Dataset, DatasetStatus, JobStatus, Layer, Promotion
from .datasets import dataset_seal, dataset_storage_key
from .errors import ActionRefused, ChecksumMismatch, PermissionRefused


def promotion_permission(*, source_layer: str) -> str:
    """The permission a promotion out of ``source_layer`` needs."""
    if source_layer == Layer.RAW:
        return "catalog.promote_to_processed"
    return "catalog.promote_onward"


def dataset_promote_request(
    *, dataset: Dataset, user: AbstractBaseUser, target_layer: str | None = None
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
            promotion = Promotion.objects.create(
                source=dataset, target_layer=target_layer, requested_by=user
            )
            transaction.on_commit(lambda: _enqueue(promotion))
    except IntegrityError:
        raise ActionRefused(
            f"This dataset is already promoted (or being promoted) to {target_layer}."
        ) from None
    return promotion


def _enqueue(promotion: Promotion) -> None:
    from ..tasks import promotion_run_task

    promotion_run_task.delay(str(promotion.pk))


def _promotion_claim(promotion_id: str) -> Promotion | None:
    """Lock the row, mark it running and make the target dataset once."""
    with transaction.atomic():
        promotion = (
            Promotion.objects.select_for_update().select_related("source").get(pk=promotion_id)
        )
        if promotion.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            return None
        promotion.status = JobStatus.RUNNING
        if promotion.target is None:
            promotion.target = _target_dataset(promotion.source, promotion.target_layer)
        promotion.save(update_fields=["status", "target"])
        return promotion


def _target_dataset(source: Dataset, layer: str) -> Dataset:
    target = Dataset(
        name=source.name,
        description=source.description,
        source=source.source,
        external_id=source.external_id,
        layer=layer,
        owner=source.owner,
        metadata=source.metadata,
        form_version=source.form_version,
    )
    target.storage_prefix = f"datasets/{target.id}/"
    target.save()
    target.tags.set(source.tags.all())
    return target


def _copy_file(promotion: Promotion, source_file: DataFile) -> None:
    target = promotion.target
    assert target is not None
    key = dataset_storage_key(dataset=target, path=source_file.path)
    source_store = layer_store(promotion.source.layer)
    target_store = layer_store(target.layer)
    sha256 = source_store.copy_to(source_file.storage_key, target_store, key)
    if sha256 is None:
        _size, sha256 = target_store.sha256(key)
    if sha256 != source_file.sha256:
        raise ChecksumMismatch(
            f"{source_file.path}: copy has SHA-256 {sha256}, expected {source_file.sha256}"
        )
    DataFile.objects.create(
        dataset=target,
        path=source_file.path,
        folder=source_file.folder,
        size=source_file.size,
        sha256=sha256,
        content_type=source_file.content_type,
        storage_key=key,
    )


def promotion_run(*, promotion_id: str) -> Promotion | None:
    """Copy every file server-side, verify each checksum, seal, record provenance."""
    promotion = _promotion_claim(promotion_id)
    if promotion is None:
        return None
    assert promotion.target is not None
    done = set(promotion.target.files.values_list("path", flat=True))
    for source_file in promotion.source.files.exclude(path__in=done).iterator():
        _copy_file(promotion, source_file)
        Promotion.objects.filter(pk=promotion.pk).update(files_done=len(done) + 1)
        done.add(source_file.path)
    return _promotion_finish(promotion)


@transaction.atomic
def _promotion_finish(promotion: Promotion) -> Promotion:
    target = promotion.target
    assert target is not None
    dataset_seal(dataset=target)
    provenance_record(
        activity=Activity.PROMOTION,
        actor=promotion.requested_by,
        dataset=target,
        used=[promotion.source],
        source_layer=promotion.source.layer,
        target_layer=target.layer,
        parameters={"promotion": str(promotion.pk), "files": target.file_count},
    )
    promotion.status = JobStatus.SUCCEEDED
    promotion.files_done = target.file_count
    promotion.finished_at = timezone.now()
    promotion.save(update_fields=["status", "files_done", "finished_at"])
    return promotion


def promotion_fail(*, promotion_id: str, reason: str) -> None:
    """Mark a promotion failed with a readable reason; its target too."""
    with transaction.atomic():
        promotion = Promotion.objects.select_for_update().get(pk=promotion_id)
        if promotion.status == JobStatus.SUCCEEDED:
            return
        promotion.status = JobStatus.FAILED
        promotion.error = reason[:2000]
        promotion.finished_at = timezone.now()
        promotion.save(update_fields=["status", "error", "finished_at"])
        if promotion.target_id:
            Dataset.objects.filter(pk=promotion.target_id).update(
                status=DatasetStatus.FAILED, failure_reason=reason[:2000]
            )
