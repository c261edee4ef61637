"""Catalog writes. Import from here; the modules are the implementation."""

from .chunks import ChunkConflict, batch_ids, upload_batch_write, upload_chunk_write
from .coldtier import cold_restores_watch, dataset_restore_request
from .datasets import dataset_create, dataset_delete, dataset_fail, dataset_seal, manifest_digest
from .errors import ActionRefused, ChecksumMismatch, PermissionRefused
from .events import provenance_record
from .ingest import dataset_ingest, dataset_ingest_copy
from .metadata_forms import (
    form_version_current,
    form_version_publish,
    metadata_clean,
    metadata_document,
    values_clean,
)
from .paths import clean_path, clean_paths
from .promote import dataset_promote_request
from .register import dataset_register_fail, dataset_register_run, dataset_register_start
from .resumable import (
    PlannedFile,
    UploadClosed,
    upload_files_check,
    upload_session_cancel,
    upload_session_finish,
    upload_session_get,
    upload_session_start,
    uploads_abandoned_clean,
)
from .upload import (
    DatasetDraft,
    UploadedItem,
    dataset_file_store,
    dataset_upload,
    dataset_upload_finish,
    dataset_upload_start,
)

__all__ = [
    "ActionRefused",
    "ChecksumMismatch",
    "ChunkConflict",
    "DatasetDraft",
    "PermissionRefused",
    "PlannedFile",
    "UploadClosed",
    "UploadedItem",
    "batch_ids",
    "clean_path",
    "clean_paths",
    "cold_restores_watch",
    "dataset_create",
    "dataset_delete",
    "dataset_fail",
    "dataset_file_store",
    "dataset_ingest",
    "dataset_ingest_copy",
    "dataset_promote_request",
    "dataset_register_fail",
    "dataset_register_run",
    "dataset_register_start",
    "dataset_restore_request",
    "dataset_seal",
    "dataset_upload",
    "dataset_upload_finish",
    "dataset_upload_start",
    "form_version_current",
    "form_version_publish",
    "manifest_digest",
    "metadata_clean",
    "metadata_document",
    "provenance_record",
    "upload_batch_write",
    "upload_chunk_write",
    "upload_files_check",
    "upload_session_cancel",
    "upload_session_finish",
    "upload_session_get",
    "upload_session_start",
    "uploads_abandoned_clean",
    "values_clean",
]
