"""Backup writes: snapshots, retention and garbage collection, restore. Import from here."""

from __future__ import annotations

from .blobs import blob_key
from .requests import backup_on_fail, backup_request
from .restore import RestoreIncomplete, restore_body, restore_request
from .retention import (
    blobs_collect,
    retention_body,
    retention_request,
    snapshot_delete,
    snapshots_prune,
)
from .snapshot import backup_store_ready, checksum_line, snapshot_body, snapshot_label
from .snapshots import (
    SnapshotIncomplete,
    snapshot_name_clean,
    snapshot_open,
    snapshots_restorable,
)

__all__ = [
    "RestoreIncomplete",
    "SnapshotIncomplete",
    "backup_on_fail",
    "backup_request",
    "backup_store_ready",
    "blob_key",
    "blobs_collect",
    "checksum_line",
    "restore_body",
    "restore_request",
    "retention_body",
    "retention_request",
    "snapshot_body",
    "snapshot_delete",
    "snapshot_label",
    "snapshot_name_clean",
    "snapshot_open",
    "snapshots_prune",
    "snapshots_restorable",
]
