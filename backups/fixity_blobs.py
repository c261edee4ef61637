"""Fixity of the backup store: each blob read back and hashed, in the same batches as the
layers' files (``backups/fixity.py`` orders both by when they were last verified).

A blob is named by its SHA-256, so reading it back proves it. A blob whose
bytes differ, or that is missing while a kept snapshot names it, is a fixity
failure (layer ``backups``, its key) that names those snapshots, is shown on
the fixity page and mails the admins. A missing blob no kept snapshot names
is no loss (a copy a failed or running snapshot had not made yet): it counts
as checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from catalog.models import FixityFailure, FixityKind
from catalog.services.fixity import fixity_failure_record
from lakeweb.storage import ObjectMissing
from lakeweb.storage.backupstore import BACKUPS, backup_store

from .models import Blob
from .services.blobs import blob_key
from .services.snapshots import snapshots_naming

# Snapshots a failure names at most (the rest are counted).
SNAPSHOTS_NAMED = 20


@dataclass(frozen=True)
class BlobOutcome:
    sha256: str
    kind: str | None  # None: intact, or missing and needed by no snapshot
    found_sha256: str = ""


def checked_blobs() -> QuerySet[Blob]:
    return Blob.objects.all()


def blobs_due(deadline: datetime) -> QuerySet[Blob]:
    """Blobs past their deadline: verified, or stored, a cycle ago (see fixity_plan)."""
    return checked_blobs().filter(
        Q(verified_at__lte=deadline) | Q(verified_at__isnull=True, first_stored_at__lte=deadline)
    )


def blob_check(sha256: str) -> BlobOutcome:
    """Read the blob back and hash it. Storage errors other than a missing object
    propagate: the job retries."""
    try:
        _size, digest = backup_store().sha256(blob_key(sha256))
    except ObjectMissing:
        return BlobOutcome(sha256, FixityKind.MISSING)
    if digest != sha256:
        return BlobOutcome(sha256, FixityKind.MISMATCH, found_sha256=digest)
    return BlobOutcome(sha256, None)


def blob_outcomes_record(outcomes: Iterable[BlobOutcome]) -> int:
    """Record a slice of outcomes; the number of failures recorded."""
    outcomes = list(outcomes)
    bad = [o for o in outcomes if o.kind is not None]
    naming = snapshots_naming({o.sha256 for o in bad}) if bad else {}
    now, failed = timezone.now(), 0
    # A blob found gone is no longer vouched for: the next snapshot that needs it
    # asks the store and copies it again (services/blobs.py trusts stored_at).
    gone = [o.sha256 for o in bad if o.kind == FixityKind.MISSING]
    if gone:
        Blob.objects.filter(sha256__in=gone).update(stored_at=None)
    for outcome in outcomes:
        names = naming.get(outcome.sha256, [])
        if outcome.kind is None or (outcome.kind == FixityKind.MISSING and not names):
            _intact(outcome.sha256, now)
        elif _failure_record(outcome, names):
            failed += 1
    return failed


def _intact(sha256: str, now: datetime) -> None:
    Blob.objects.filter(sha256=sha256).update(verified_at=now)
    FixityFailure.objects.filter(
        layer=BACKUPS, storage_key=blob_key(sha256), resolved_at__isnull=True
    ).update(resolved_at=now)


def _failure_record(outcome: BlobOutcome, names: list[str]) -> bool:
    """One open failure per blob and kind (the constraint on files does not hold here)."""
    key = blob_key(outcome.sha256)
    open_already = FixityFailure.objects.filter(
        layer=BACKUPS, storage_key=key, kind=outcome.kind, resolved_at__isnull=True
    )
    if open_already.exists():
        return False
    what = (
        "is missing from the backup store"
        if outcome.kind == FixityKind.MISSING
        else "read back with another SHA-256 than its name"
    )
    shown = ", ".join(names[:SNAPSHOTS_NAMED]) or "none kept"
    more = f" and {len(names) - SNAPSHOTS_NAMED} more" if len(names) > SNAPSHOTS_NAMED else ""
    detail = (
        f"Backup blob {key} {what}; snapshots that reference it: {shown}{more}. "
        "Restoring the files with these bytes from those snapshots fails."
    )
    return (
        fixity_failure_record(
            kind=outcome.kind or FixityKind.MISMATCH,
            found_by="fixity",
            detail=detail,
            layer=BACKUPS,
            storage_key=key,
            expected_sha256=outcome.sha256,
            found_sha256=outcome.found_sha256,
        )
        is not None
    )
