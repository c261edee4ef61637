"""Reads of unfinished uploads: what the upload page needs to send the rest."""

from __future__ import annotations

from typing import Any

from ..models import Dataset
from ..services.derive import derivation_sources_of

FILE_FIELDS = ("id", "path", "size", "received", "chunk_size", "completed")


def upload_status(*, dataset: Dataset) -> dict[str, Any]:
    """The upload and, for each file, how much has arrived and the chunk size to send.

    Read as plain rows: an upload may list 100,000 files, and building a
    model for each cost more than the query (10,000 files: 1.7 s → 0.1 s).
    """
    rows = dataset.upload_files.order_by("path").values_list(*FILE_FIELDS)
    return {
        "upload": str(dataset.pk),
        "status": dataset.status,
        "files": [
            {
                "id": pk,
                "path": path,
                "size": size,
                "received": received,
                "chunk_size": chunk_size,
                "complete": completed,
            }
            for pk, path, size, received, chunk_size, completed in rows.iterator(chunk_size=2000)
        ],
    }


def upload_draft(*, dataset: Dataset) -> dict[str, Any]:
    """What an upload began with (the dataset's fields and each experiment's values).

    The page shows these, read-only, when it resumes the upload: the dataset
    was validated and created with them, and they are what it will be sealed
    with, in its layer, from the same sources. Three queries (the source, the
    tags, the sources it is derived from).
    """
    return {
        "name": dataset.name,
        "description": dataset.description,
        "source": dataset.source.slug,
        "external_id": dataset.external_id,
        "tags": [tag.name for tag in dataset.tags.all()],
        "experiments": dataset.metadata.get("experiments", []),
        "layer": dataset.layer,
        "derived_from": derivation_sources_of(dataset=dataset),
    }
