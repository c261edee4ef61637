"""Uploads: into raw, or into processed/curated when derived from ready datasets.

An upload is three steps so it can grow into resumable, chunked uploads:
``dataset_upload_start`` (validate everything, create the hidden row),
``dataset_file_store`` (stream one file into storage with its SHA-256) and
``dataset_upload_finish`` (seal, record provenance). ``dataset_upload`` runs
all three for a form post.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import transaction

from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.storage import StorageError, StoredObject, layer_store

from ..models import Activity, DataFile, Dataset, Layer, MetadataFormVersion, Source
from .datasets import dataset_create, dataset_fail, dataset_seal, dataset_storage_key
from .derive import derivation_record, derivation_sources_check, derivation_sources_keep
from .events import provenance_record
from .indexing import folder_of
from .metadata_forms import metadata_clean, metadata_document
from .paths import clean_paths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedItem:
    """One file of an upload: its relative path and a readable stream."""

    path: str
    stream: IO[bytes]
    content_type: str = ""


@dataclass(frozen=True)
class DatasetDraft:
    """What describes a new dataset, however its files arrive (page, protocol, ingest).

    ``derived_from`` names ready datasets (ids as given, checked by
    ``derivation_sources_check``); a derived dataset goes into ``layer``,
    processed or curated. Without sources the layer is raw.
    """

    owner: User
    name: str
    source: Source
    experiments: Sequence[dict[str, Any]]
    form_version: MetadataFormVersion | None = None
    description: str = ""
    external_id: str = ""
    tags: Sequence[str] = ()
    layer: str = Layer.RAW
    derived_from: Sequence[str] = ()


@transaction.atomic
def dataset_upload_start(*, draft: DatasetDraft) -> Dataset:
    """Create the dataset row, status ``uploading`` (invisible to browsing).

    Each experiment's values are validated against ``form_version``; the
    mandatory keys are filled in (see ``metadata_document``). The sources of
    a derived upload are checked and kept with it (``derive``).
    """
    owner, form_version, experiments = draft.owner, draft.form_version, draft.experiments
    if not owner.has_perm("catalog.add_dataset"):
        raise PermissionRefused("Only lab members can upload datasets.")
    if form_version is not None and form_version.form.retired:
        raise ActionRefused(f"The form '{form_version.form}' is retired; choose another one.")
    sources = derivation_sources_check(user=owner, ids=draft.derived_from, layer=draft.layer)
    if form_version is not None:
        experiments = [metadata_clean(version=form_version, values=e) for e in experiments]
    metadata = metadata_document(source=draft.source, experiments=list(experiments))
    dataset = dataset_create(
        name=draft.name,
        description=draft.description,
        source=draft.source,
        external_id=draft.external_id,
        layer=draft.layer,
        owner=owner,
        metadata=metadata,
        form_version=form_version,
        tags=draft.tags,
        derived_from=sources,
    )
    derivation_sources_keep(dataset=dataset, sources=sources)
    return dataset


def dataset_file_store(
    *, dataset: Dataset, path: str, stream: IO[bytes], content_type: str = ""
) -> DataFile:
    """Stream one file into the dataset's layer and record its size and SHA-256."""
    key = dataset_storage_key(dataset=dataset, path=path)
    content_type = content_type or guess_content_type(path)
    stored = layer_store(dataset.layer).save(key, stream, content_type=content_type)
    return datafile_record(dataset=dataset, path=path, stored=stored, content_type=content_type)


def guess_content_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def datafile_record(
    *, dataset: Dataset, path: str, stored: StoredObject, content_type: str
) -> DataFile:
    """The catalog row of a file just stored, with the size and SHA-256 the store measured."""
    return DataFile.objects.create(
        dataset=dataset,
        path=path,
        folder=folder_of(path),
        size=stored.size,
        sha256=stored.sha256,
        content_type=content_type[:200],
        storage_key=stored.key,
        version_id=stored.version_id,
    )


@transaction.atomic
def dataset_upload_finish(
    *, dataset: Dataset, actor: User, parameters: dict[str, Any] | None = None
) -> Dataset:
    """Seal the dataset (now visible) and record its provenance.

    A derived upload gets a ``derivation`` event naming its sources, any other
    a ``collection``. ``parameters`` add to what the event records (ingest:
    ``via`` and ``origin``).
    """
    dataset_seal(dataset=dataset)
    recorded = {
        "files": dataset.file_count,
        "bytes": dataset.total_size,
        "via": "upload",
        **(parameters or {}),
    }
    if derivation_record(dataset=dataset, actor=actor, parameters=recorded) is None:
        provenance_record(
            activity=Activity.COLLECTION,
            actor=actor,
            dataset=dataset,
            target_layer=dataset.layer,
            parameters=recorded,
        )
    return dataset


def dataset_upload(*, draft: DatasetDraft, items: Sequence[UploadedItem]) -> Dataset:
    """Validate and store a whole upload; raises ValidationError before storing anything."""
    paths = clean_paths([item.path for item in items])
    dataset = dataset_upload_start(draft=draft)
    try:
        for item, path in zip(items, paths, strict=True):
            dataset_file_store(
                dataset=dataset, path=path, stream=item.stream, content_type=item.content_type
            )
    except StorageError as exc:
        logger.exception("upload of dataset %s failed", dataset.pk)
        dataset_fail(dataset=dataset, reason=str(exc))
        raise
    return dataset_upload_finish(dataset=dataset, actor=draft.owner)
