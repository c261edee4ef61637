"""Catalog pages; each module one job (search, browse, upload, actions)."""

from .actions import dataset_delete, dataset_promote
from .browse import datafile_download, dataset_detail
from .search import dataset_list
from .upload import (
    upload,
    upload_batch,
    upload_choose,
    upload_chunk,
    upload_finish,
    upload_session,
    upload_start,
)

__all__ = [
    "datafile_download",
    "dataset_delete",
    "dataset_detail",
    "dataset_list",
    "dataset_promote",
    "upload",
    "upload_batch",
    "upload_choose",
    "upload_chunk",
    "upload_finish",
    "upload_session",
    "upload_start",
]
