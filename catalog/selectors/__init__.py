"""Catalog reads. Import from here; the modules are the implementation."""

from .datasets import (
    Download,
    MetadataRow,
    datafile_download,
    dataset_actions,
    dataset_get,
    dataset_metadata_rows,
    dataset_search,
    metadata_forms_open,
)

__all__ = [
    "Download",
    "MetadataRow",
    "datafile_download",
    "dataset_actions",
    "dataset_get",
    "dataset_metadata_rows",
    "dataset_search",
    "metadata_forms_open",
]
