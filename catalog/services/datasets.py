"""Dataset life cycle shared by uploads and promotions: keys, sealing, failure, deletion."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.storage import layer_store

from ..models import Activity, Dataset, DatasetStatus, Layer, MetadataFormVersion, Source, Tag
from .events import provenance_record
from .indexing import dataset_index, dataset_unindex


@transaction.atomic
def dataset_create(
    *,
    name: str,
    source: Source,
    owner: User,
    layer: str = Layer.RAW,
    description: str = "",
    external_id: str = "",
    metadata: dict[str, Any] | None = None,
    form_version: MetadataFormVersion | None = None,
    tags: Sequence[str] = (),
    derived_from: Sequence[Dataset] = (),
) -> Dataset:
    """The one way a dataset row is made: hidden (``uploading``) until sealed.

    It owns the layer rule and the storage prefix (``datasets/<id>/`` in the
    layer's store). Uploads, ingest and registrations make raw datasets from
    nothing; promotions and derivations name the ready datasets they come
    from (``derived_from``), and those never go into raw.
    """
    if layer not in Layer.values:
        raise ActionRefused(f"'{layer}' is not a layer.")
    if derived_from and layer == Layer.RAW:
        raise ActionRefused("Raw holds original data only: a derived dataset cannot go there.")
    for origin in derived_from:
        if origin.status != DatasetStatus.READY:
            raise ActionRefused(f"'{origin.name}' is {origin.status}: only ready datasets count.")
    dataset = Dataset(
        name=name,
        description=description,
        source=source,
        external_id=external_id,
        layer=layer,
        owner=owner,
        metadata=metadata if metadata is not None else {},
        form_version=form_version,
    )
    dataset.storage_prefix = storage_prefix_for(dataset.id)
    dataset.save()
    dataset.tags.set(_tags(tags))
    return dataset


def _tags(names: Sequence[str]) -> list[Tag]:
    clean = sorted({name.strip()[:100] for name in names if name.strip()})
    return [Tag.objects.get_or_create(name=name)[0] for name in clean]


def storage_prefix_for(dataset_id: uuid.UUID) -> str:
    """The folder of a dataset's files inside its layer (the same length for every id)."""
    return f"datasets/{dataset_id}/"


def dataset_storage_key(*, dataset: Dataset, path: str) -> str:
    """Where a file of a dataset lives inside its layer."""
    return f"{dataset.storage_prefix}{path}"


def manifest_digest(entries: list[tuple[str, str]]) -> str:
    """SHA-256 of ``sha256sum``-style lines ("<sha256>  <path>\\n"), sorted by path.

    The same digest comes out of ``sha256sum`` run over the dataset's files
    (``find . -type f | sort | xargs sha256sum | sha256sum``, paths without
    the leading "./"), so anyone can check a download against the catalog.
    """
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(entries))
    return hashlib.sha256(lines.encode()).hexdigest()


@transaction.atomic
def dataset_seal(*, dataset: Dataset) -> Dataset:
    """Record counts and the manifest digest, mark ready and sealed, index it."""
    files = list(dataset.files.values_list("path", "sha256", "size"))
    dataset.file_count = len(files)
    dataset.total_size = sum(size for _path, _sha, size in files)
    dataset.manifest_digest = manifest_digest([(path, sha) for path, sha, _size in files])
    dataset.status = DatasetStatus.READY
    dataset.sealed_at = timezone.now()
    dataset.save(
        update_fields=["file_count", "total_size", "manifest_digest", "status", "sealed_at"]
    )
    dataset_index(dataset=dataset, files=[(path, size) for path, _sha, size in files])
    return dataset


def dataset_fail(*, dataset: Dataset, reason: str) -> None:
    """Mark an unsealed dataset failed and remove what it stored (a sealed one is kept)."""
    failed = Dataset.objects.filter(pk=dataset.pk, sealed_at__isnull=True).update(
        status=DatasetStatus.FAILED, failure_reason=reason[:2000]
    )
    if not failed:
        return
    # Raw objects under Object Lock stay until their retention ends; this only
    # hides them (a delete marker), which is what S3 allows.
    layer_store(dataset.layer).delete_prefix(dataset.storage_prefix)
    dataset.files.all().delete()


def dataset_delete(*, dataset: Dataset, user: User) -> None:
    """Delete a dataset outside raw: its objects go, the row stays as a tombstone.

    Raw data is never deletable through lakeweb (SPEC §2); provenance keeps
    pointing at the tombstone so lineage stays whole.
    """
    if dataset.layer == Layer.RAW:
        raise ActionRefused("Raw datasets are write-once and can never be deleted.")
    if not user.has_perm("catalog.delete_dataset"):
        raise PermissionRefused("Only curators can delete datasets.")
    if dataset.status == DatasetStatus.DELETED:
        raise ActionRefused("This dataset is already deleted.")
    layer_store(dataset.layer).delete_prefix(dataset.storage_prefix)
    with transaction.atomic():
        dataset_unindex(dataset=dataset)
        dataset.files.all().delete()
        dataset.status = DatasetStatus.DELETED
        dataset.save(update_fields=["status"])
        provenance_record(
            activity=Activity.NOTE,
            actor=user,
            dataset=dataset,
            source_layer=dataset.layer,
            note="Dataset deleted; its files were removed from storage.",
        )
