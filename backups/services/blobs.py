"""Content-addressed blobs: each distinct SHA-256 stored once in the backup store.

A snapshot copies a file only when the store lacks its SHA-256 (server-side
where the layer and the store share an endpoint, streamed and hashed
otherwise: :func:`lakeweb.storage.copy.copy_verified` decides). Ten datasets
promoted from the same raw files cost one copy. A file in the archive's cold
tier is read from a readable copy of its bytes, or is a per-file error
(:mod:`backups.services.cold`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from lakeweb.storage import LayerStore, layer_store
from lakeweb.storage.copy import copy_verified

from ..models import Blob
from .cold import BlobUnreadable, blob_source, cold_sources_find

# Distinct blobs checked (and copied) per round: rows touched in one query,
# copies run BACKUP_CONCURRENCY at a time.
BATCH = 200
# A catalog that vouches for no blob lists the store's blobs once instead of
# asking for each (a new store answers in one request); past this many keys
# it asks for each after all, so the listing's memory stays bounded.
LIST_AT_MOST = 100_000
BLOBS = "blobs/sha256/"


def blob_key(sha256: str) -> str:
    """``blobs/sha256/ab/cd/<sha256>``: two levels of folders keep a folder small."""
    return f"blobs/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"


@dataclass
class BlobTally:
    files: int = 0
    bytes_new: int = 0
    bytes_reused: int = 0
    blobs_new: int = 0
    # Files whose bytes could not be read anywhere (cold, no readable copy): not stored.
    errors: list[str] = field(default_factory=list)


def blobs_store(
    entries: Callable[[], Iterable[dict[str, Any]]],
    store: LayerStore,
    *,
    progress: Callable[[int], None],
) -> BlobTally:
    """Make sure the store holds a blob for every file entry; count new and reused bytes.

    ``entries`` gives the entries afresh each time it is called: every blob is
    marked used first (so garbage collection leaves them all alone, see
    :class:`~backups.models.Blob`), then each batch asks the Blob table which
    the store holds, and the store only about the others.
    """
    _blobs_touch_all(entries())
    listed = _blobs_listed(store) if not Blob.objects.exclude(stored_at=None).exists() else None
    tally, seen, batch = BlobTally(), set[str](), []
    with ThreadPoolExecutor(settings.BACKUP_CONCURRENCY, thread_name_prefix="blobs") as pool:
        for entry in entries():
            tally.files += 1
            if entry["sha256"] in seen:
                tally.bytes_reused += entry["size"]  # the same bytes twice in one snapshot
                continue
            seen.add(entry["sha256"])
            batch.append(entry)
            if len(batch) >= BATCH:
                _store_batch(batch, store, tally, pool, listed)
                batch = []
                progress(tally.files)
        _store_batch(batch, store, tally, pool, listed)
    progress(tally.files)
    return tally


def _blobs_touch_all(entries: Iterable[dict[str, Any]]) -> None:
    """Mark every distinct blob of the entries used, a batch at a time."""
    seen: set[str] = set()
    batch: dict[str, int] = {}
    for entry in entries:
        if entry["sha256"] not in seen:
            seen.add(entry["sha256"])
            batch[entry["sha256"]] = entry["size"]
        if len(batch) >= BATCH:
            blobs_touch(batch)
            batch = {}
    blobs_touch(batch)


def _blobs_listed(store: LayerStore) -> set[str] | None:
    """The SHA-256 of every blob in the store, or None when there are too many to hold.

    Taken after every blob of the snapshot was marked used, so none of those
    can be collected after it was listed.
    """
    found: set[str] = set()
    for key in store.list_keys(BLOBS):
        if len(found) >= LIST_AT_MOST:
            return None
        found.add(key.rsplit("/", 1)[-1])
    return found


def _store_batch(
    batch: list[dict[str, Any]],
    store: LayerStore,
    tally: BlobTally,
    pool: ThreadPoolExecutor,
    listed: set[str] | None,
) -> None:
    if not batch:
        return
    shas = [entry["sha256"] for entry in batch]
    held = set(
        Blob.objects.filter(sha256__in=shas)
        .exclude(stored_at=None)
        .values_list("sha256", flat=True)
    )
    if listed is not None:
        held |= listed.intersection(shas)
    cold_sources_find(batch)
    # Storage only in the threads; every row is written here, in the job's thread.
    # Where the store was listed, a blob it did not hold is copied without asking again.
    check = listed is None
    put = pool.map(lambda e: e["sha256"] not in held and _blob_try(e, store, check=check), batch)
    unread: set[str] = set()
    for entry, copied in zip(batch, put, strict=True):
        if isinstance(copied, BlobUnreadable):
            tally.errors.append(str(copied))
            unread.add(entry["sha256"])
        elif copied:
            tally.bytes_new += entry["size"]
            tally.blobs_new += 1
        else:
            tally.bytes_reused += entry["size"]
    stored = [sha for sha in shas if sha not in unread]
    Blob.objects.filter(sha256__in=stored, stored_at=None).update(stored_at=timezone.now())


def blobs_touch(sizes: dict[str, int]) -> None:
    """Mark blobs used now, before they are checked or copied (see Blob's docstring)."""
    if not sizes:
        return
    now = timezone.now()
    Blob.objects.filter(sha256__in=list(sizes)).update(last_used_at=now)
    Blob.objects.bulk_create(
        [Blob(sha256=sha, size=size, last_used_at=now) for sha, size in sizes.items()],
        ignore_conflicts=True,
    )


def _blob_try(entry: dict[str, Any], store: LayerStore, *, check: bool) -> bool | BlobUnreadable:
    try:
        return _blob_put(entry, store, check=check)
    except BlobUnreadable as exc:
        return exc


def _blob_put(entry: dict[str, Any], store: LayerStore, *, check: bool) -> bool:
    """Copy the file's bytes to its blob unless (``check``) the store holds them; True if
    copied."""
    key = blob_key(entry["sha256"])
    if check and store.exists(key):
        return False
    source = blob_source(entry)  # a readable copy of a cold file's bytes
    copy_verified(
        source=layer_store(source["layer"]),
        key=source["storage_key"],
        target=store,
        target_key=key,
        sha256=entry["sha256"],
        size=entry["size"],
        version_id=source.get("version_id"),  # the sealed version, not a later PUT
    )
    return True
