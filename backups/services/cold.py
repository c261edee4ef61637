"""Files of datasets in the archive's cold tier, as a snapshot meets them (issue 12 items 2, 7).

An object in GLACIER or DEEP_ARCHIVE (or in the filesystem's cold folder)
cannot be read, nor copied server-side, until a restore thaws it. Blobs are
content-addressed, so a cold file whose SHA-256 the backup store holds costs
nothing: the usual case for a dataset backed up before its promotion into the
archive. Otherwise the bytes are read from a readable copy of the same bytes
elsewhere in the lake (the dataset it was promoted from, raw's above all,
which is never deleted). A cold file with no readable copy anywhere is a
per-file error of the snapshot, which completes for everything else; the
backups page lists it, and a restore of the dataset then a backup mends it.
"""

from __future__ import annotations

from typing import Any

from catalog.models import Dataset
from catalog.selectors import dataset_cold_state
from catalog.selectors.coldtier import readable_copies


class BlobUnreadable(Exception):
    """A file's bytes cannot be read anywhere now: the snapshot records it and goes on."""


def dataset_cold_now(*, dataset: Dataset) -> bool:
    """Whether the dataset's own files cannot be read now (cold, and not thawed)."""
    state = dataset_cold_state(dataset=dataset)
    return state is not None and not state.readable


def cold_sources_find(entries: list[dict[str, Any]]) -> None:
    """Give each cold entry a readable copy of its bytes (``entry["from"]``) where the lake has one.

    One query for the whole batch; run in the job's thread, before the copies.
    """
    cold = [entry for entry in entries if entry.get("cold")]
    if not cold:
        return
    copies = readable_copies(sha256s={entry["sha256"] for entry in cold})
    for entry in cold:
        if entry["sha256"] in copies:
            entry["from"] = copies[entry["sha256"]]


def blob_source(entry: dict[str, Any]) -> dict[str, Any]:
    """Where to read the entry's bytes (``layer``, ``storage_key``, ``version_id``)."""
    if not entry.get("cold"):
        return entry
    if "from" in entry:
        return entry["from"]
    raise BlobUnreadable(
        f"{entry['layer']} dataset {entry['dataset']}, file {entry['path']}: in cold storage and "
        "no readable copy of its bytes is in the lake, so it is not in this snapshot. "
        "Request a restore of the dataset; the next backup after it is readable copies it."
    )
