"""Catalog reads. Import from here; the modules are the implementation."""

from .coldtier import ColdRefused, ColdState, dataset_cold_state, dataset_readable_check
from .counts import COUNT_LIMIT, MatchCounts, catalog_version, dataset_counts
from .datasets import (
    Download,
    MetadataRow,
    datafile_download,
    dataset_actions,
    dataset_get,
    dataset_get_ready,
    dataset_jobs,
    dataset_metadata_rows,
    metadata_forms_all,
    metadata_forms_open,
)
from .events import dataset_timeline
from .facets import Facets, FacetValue, dataset_facets
from .paging import PAGE_SIZE, BadCursor, DatasetPage, dataset_page
from .search import DatasetQuery, dataset_filter, dataset_ordered
from .uploads import upload_draft, upload_status

__all__ = [
    "COUNT_LIMIT",
    "PAGE_SIZE",
    "BadCursor",
    "ColdRefused",
    "ColdState",
    "DatasetPage",
    "DatasetQuery",
    "Download",
    "FacetValue",
    "Facets",
    "MatchCounts",
    "MetadataRow",
    "catalog_version",
    "datafile_download",
    "dataset_actions",
    "dataset_cold_state",
    "dataset_counts",
    "dataset_facets",
    "dataset_filter",
    "dataset_get",
    "dataset_get_ready",
    "dataset_jobs",
    "dataset_metadata_rows",
    "dataset_ordered",
    "dataset_page",
    "dataset_readable_check",
    "dataset_timeline",
    "metadata_forms_all",
    "metadata_forms_open",
    "upload_draft",
    "upload_status",
]
