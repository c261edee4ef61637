"""Catalog pages; each module one job (search, browse, files, upload, actions)."""

from .actions import dataset_delete, dataset_promote, dataset_restore
from .browse import datafile_download, dataset_detail, dataset_tree
from .dashboard import dashboard, layers
from .files import datafile_inline, datafile_preview, dataset_zip
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
    "dashboard",
    "datafile_download",
    "datafile_inline",
    "datafile_preview",
    "dataset_delete",
    "dataset_detail",
    "dataset_list",
    "dataset_promote",
    "dataset_restore",
    "dataset_tree",
    "dataset_zip",
    "layers",
    "upload",
    "upload_batch",
    "upload_choose",
    "upload_chunk",
    "upload_finish",
    "upload_session",
    "upload_start",
]
