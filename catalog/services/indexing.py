"""What the catalog keeps beside a sealed dataset so that reading stays fast at any size.

- the search document (``search_text``, and ``search_vector`` on PostgreSQL);
- the folders of its file tree with their counts and sizes;
- the tallies behind facet counts, the dashboard and the stats API
  (``tallies.py``).

Written when a dataset is sealed and undone when it is deleted, in the same
transaction, so that no reader sees one without the other. ``catalog_reindex``
rebuilds all of it from the datasets themselves.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Value

from ..models import (
    CatalogVersion,
    DataFolder,
    Dataset,
    DatasetStatus,
    DatasetTally,
    FieldValueTally,
    TagTally,
)
from .tallies import tallies_add, tallies_rebuild

# A tsvector holds at most 1 MB; metadata beyond this much text is not searched.
SEARCH_TEXT_MAX = 100_000


def folder_of(path: str) -> str:
    """The folder a file path sits in; '' for the dataset's top folder."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def _metadata_words(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _metadata_words(item)
    elif isinstance(value, list):
        for item in value:
            yield from _metadata_words(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def search_parts(*, dataset: Dataset, tag_names: list[str]) -> tuple[str, str, str]:
    """The searchable text by weight: (name and external id, tags, the rest)."""
    first = f"{dataset.name} {dataset.external_id}".strip()
    metadata = " ".join(_metadata_words(dataset.metadata))
    rest = f"{dataset.description} {metadata}".strip()[:SEARCH_TEXT_MAX]
    return first, " ".join(tag_names), rest


def search_columns(*, first: str, tags: str, rest: str, vendor: str) -> dict[str, Any]:
    """The values of ``search_text`` (and ``search_vector`` on PostgreSQL) for an update."""
    columns: dict[str, Any] = {"search_text": f"{first}\n{tags}\n{rest}".lower()}
    if vendor == "postgresql":
        config = settings.LAKEWEB_SEARCH_CONFIG
        columns["search_vector"] = (
            SearchVector(Value(first), weight="A", config=config)
            + SearchVector(Value(tags), weight="B", config=config)
            + SearchVector(Value(rest), weight="C", config=config)
        )
    return columns


def dataset_search_write(*, dataset: Dataset) -> None:
    """Write a dataset's search document from its fields, tags and metadata."""
    tag_names = sorted(tag.name for tag in dataset.tags.all())
    first, tags, rest = search_parts(dataset=dataset, tag_names=tag_names)
    columns = search_columns(first=first, tags=tags, rest=rest, vendor=connection.vendor)
    Dataset.objects.filter(pk=dataset.pk).update(**columns)


def folder_totals(files: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    """[file count, bytes] of every folder (all levels below it), '' being the top."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for path, size in files:
        folder = folder_of(path)
        while True:
            totals[folder][0] += 1
            totals[folder][1] += size
            if not folder:
                break
            folder = folder_of(folder)
    return totals


def _folders_write(dataset: Dataset, files: list[tuple[str, int]]) -> None:
    dataset.folders.all().delete()
    DataFolder.objects.bulk_create(
        (
            DataFolder(
                dataset=dataset,
                path=path,
                parent=folder_of(path),
                file_count=count,
                total_size=size,
            )
            for path, (count, size) in folder_totals(files).items()
        ),
        batch_size=2000,
    )


def catalog_version_bump() -> None:
    """A new catalog version: what was cached under the old one is no longer used."""
    number = secrets.randbits(62)
    if not CatalogVersion.objects.filter(pk=1).update(number=number):
        CatalogVersion.objects.update_or_create(pk=1, defaults={"number": number})
    if settings.CACHE_URL:  # pages read it from the shared cache (selectors.catalog_version)
        transaction.on_commit(
            lambda: cache.set(CatalogVersion.CACHE_KEY, number, CatalogVersion.CACHE_SECONDS)
        )


@transaction.atomic
def dataset_index(*, dataset: Dataset, files: list[tuple[str, int]]) -> None:
    """Index a dataset being sealed: search document, folders, tallies.

    ``files`` are its (path, size) pairs, which sealing has read already.
    """
    dataset_search_write(dataset=dataset)
    _folders_write(dataset, files)
    tallies_add(dataset=dataset, sign=+1)
    catalog_version_bump()


@transaction.atomic
def dataset_unindex(*, dataset: Dataset) -> None:
    """Take a sealed dataset that is being deleted out of folders and tallies."""
    dataset.folders.all().delete()
    tallies_add(dataset=dataset, sign=-1)
    catalog_version_bump()


def catalog_reindex(*, search: bool = True, folders: bool = True) -> dict[str, int]:
    """Rebuild the tallies, and the search documents and folders of sealed datasets.

    For datasets written before indexing existed, and after bulk loads.
    """
    with transaction.atomic():
        tallies_rebuild()
        catalog_version_bump()
    done = 0
    sealed = Dataset.objects.filter(status=DatasetStatus.READY).prefetch_related("tags")
    if search or folders:
        for dataset in sealed.iterator(chunk_size=500):
            with transaction.atomic():
                if search:
                    dataset_search_write(dataset=dataset)
                if folders:
                    _folders_write(dataset, list(dataset.files.values_list("path", "size")))
            done += 1
    return {
        "datasets": done,
        "tallies": DatasetTally.objects.count(),
        "tag_tallies": TagTally.objects.count(),
        "value_tallies": FieldValueTally.objects.count(),
    }
