"""Reads for a dataset's file tree: one folder at a time, one page at a time.

A dataset may hold tens of thousands of files, so the page never reads them
all. The folder rows written at sealing (``DataFolder``) carry each folder's
file count and bytes; a folder page is then a fixed number of queries,
whatever the dataset's size (SPEC §3 item 2):

1. the folder itself (unique index on dataset, path);
2. how many subfolders it has and how many files they hold (one aggregate
   over the index on dataset, parent, path);
3. the subfolders on this page (same index, in order);
4. the files on this page (index on dataset, folder, path, in order).

The files directly in a folder number ``folder.file_count`` minus what its
subfolders hold, so no query counts them. A page lists the subfolders first,
then the files, ``PAGE_SIZE`` entries in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum

from ..models import DataFile, DataFolder, Dataset, DatasetStatus
from ..services.paths import has_control_characters
from .preview import preview_kind
from .results import kept

PAGE_SIZE = 200
# A ready dataset's folders and files never change (its layer is immutable): its
# folder pages are kept in the shared cache this long, by dataset, manifest,
# folder and page number.
TREE_CACHE_SECONDS = 3600


class TreeNotFound(Exception):
    """No such folder, page or file; the message says which, for the 404 page."""


@dataclass(frozen=True)
class Crumb:
    name: str
    path: str


@dataclass(frozen=True)
class FileEntry:
    """A file row: the file, and whether it has a preview page."""

    file: DataFile
    preview: bool


@dataclass(frozen=True)
class FolderPage:
    """One page of a folder's children, subfolders first."""

    folder: DataFolder
    subfolders: list[DataFolder]
    files: list[FileEntry]
    page: int
    pages: int
    entries: int

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None

    @property
    def breadcrumbs(self) -> list[Crumb]:
        return folder_breadcrumbs(path=self.folder.path)


def folder_path_clean(raw: str) -> str:
    """The folder path as stored: no leading or trailing slash, '' for the top.

    Spaces are kept (a folder may be named "run 1 "); control characters,
    which no stored path has, raise TreeNotFound before reaching the database
    (PostgreSQL refuses NUL in a query).
    """
    path = raw.strip("/")
    if has_control_characters(path):
        raise TreeNotFound("A folder path never contains control characters.")
    return path


def folder_breadcrumbs(*, path: str) -> list[Crumb]:
    """The folders from the top down to ``path``, each with the path that opens it."""
    crumbs = [Crumb(name="", path="")]
    if path:
        parts = path.split("/")
        crumbs += [Crumb(name=part, path="/".join(parts[: i + 1])) for i, part in enumerate(parts)]
    return crumbs


def dataset_folder(*, dataset: Dataset, path: str) -> DataFolder:
    """A folder of the dataset; raises TreeNotFound with a readable message.

    A dataset with no files (or a deleted one, whose folders went with its
    files) still has an empty top folder, so its page shows an empty tree.
    """
    try:
        return DataFolder.objects.get(dataset=dataset, path=path)
    except DataFolder.DoesNotExist:
        if path == "":
            return DataFolder(dataset=dataset, path="", parent="", file_count=0, total_size=0)
        raise TreeNotFound(f"This dataset has no folder “{path}”.") from None


def page_number(raw: str | None) -> int:
    """A page number from the query string ('' or None is page 1)."""
    if not raw:
        return 1
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if number < 1:
        raise TreeNotFound("The page number must be a whole number from 1 up.")
    return number


def _subfolders(folder: DataFolder) -> QuerySet[DataFolder]:
    # The top folder is its own parent ('' under ''): leave it out.
    return DataFolder.objects.filter(dataset_id=folder.dataset_id, parent=folder.path).exclude(
        path=folder.path
    )


def folder_children(*, folder: DataFolder, page: int = 1, per_page: int = PAGE_SIZE) -> FolderPage:
    """Page ``page`` of a folder's subfolders then files; TreeNotFound past the end."""
    below = _subfolders(folder).aggregate(count=Count("id"), files=Sum("file_count"))
    folder_total = below["count"]
    file_total = folder.file_count - (below["files"] or 0)
    entries = folder_total + file_total
    pages = max(1, math.ceil(entries / per_page))
    if page > pages:
        raise TreeNotFound(f"This folder has {pages} page{'s' if pages > 1 else ''} of files.")
    start, end = (page - 1) * per_page, page * per_page
    subfolders = (
        list(_subfolders(folder).order_by("path")[start:end]) if start < folder_total else []
    )
    files: list[DataFile] = []
    if end > folder_total and file_total:
        rows = DataFile.objects.filter(dataset_id=folder.dataset_id, folder=folder.path)
        rows = rows.only("id", "path", "size", "sha256", "content_type").order_by("path")
        files = list(rows[max(start - folder_total, 0) : end - folder_total])
    entries_files = [FileEntry(file=f, preview=_previewable(f)) for f in files]
    return FolderPage(folder, subfolders, entries_files, page, pages, entries)


def _previewable(datafile: DataFile) -> bool:
    return preview_kind(name=datafile.name, content_type=datafile.content_type) is not None


def dataset_folder_page(*, dataset: Dataset, path: str, page: int = 1) -> FolderPage:
    """The folder at ``path`` with page ``page`` of its children (see module doc)."""

    def make() -> FolderPage:
        return folder_children(folder=dataset_folder(dataset=dataset, path=path), page=page)

    if dataset.status != DatasetStatus.READY:
        return make()
    return kept(
        prefix="catalog-tree",
        address=f"{dataset.pk}\n{dataset.manifest_digest}\n{page}\n{path}",
        seconds=TREE_CACHE_SECONDS,
        make=make,
    )


def datafile_get(*, dataset_id: Any, file_id: int) -> DataFile:
    """A file of a ready dataset, with its dataset; raises TreeNotFound."""
    try:
        return DataFile.objects.select_related("dataset").get(
            pk=file_id, dataset_id=dataset_id, dataset__status=DatasetStatus.READY
        )
    except DataFile.DoesNotExist:
        raise TreeNotFound("This dataset has no such file.") from None
