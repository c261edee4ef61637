"""Backup writes: snapshots, retention and garbage collection, restore. Import from here."""

from __future__ import annotations

from .blobs import blob_key
from .requests import backup_on_fail, backup_request
from .snapshot import backup_store_ready, checksum_line, snapshot_body, snapshot_label

__all__ = [
    "backup_on_fail",
    "backup_request",
    "backup_store_ready",
    "blob_key",
    "checksum_line",
    "snapshot_body",
    "snapshot_label",
]
