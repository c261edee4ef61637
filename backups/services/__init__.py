"""Backup writes: snapshots, retention and garbage collection, restore. Import from here."""

from __future__ import annotations

from .blobs import blob_key
from .requests import backup_on_fail, backup_request
from .restore import RestoreIncomplete, restore_body, restore_request
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
    "checksum_line",
    "restore_body",
    "restore_request",
    "snapshot_body",
    "snapshot_label",
    "snapshot_name_clean",
    "snapshot_open",
    "snapshots_restorable",
]
