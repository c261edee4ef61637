"""Recording what fixity finds, and reading a file so that its bytes are proven.

Every path that finds a stored object wrong comes here: the streams that pass
through lakeweb (zip, previews, streamed downloads) through
:class:`VerifyingReader`, and the scheduled check and reconciliation pass
(``backups.fixity``) through :func:`fixity_failure_record`. A failure is
recorded once while it is open (a constraint holds it), and only its first
sighting records a ``verification`` provenance event and mails the admins.
"""

from __future__ import annotations

import hashlib
import logging
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction

from lakeweb.errors import ChecksumMismatch
from lakeweb.storage import ObjectMissing, layer_store

from ..models import Activity, DataFile, FixityFailure, FixityKind
from .events import provenance_record

logger = logging.getLogger(__name__)


def fixity_failure_record(
    *,
    kind: str,
    found_by: str,
    detail: str,
    datafile: DataFile | None = None,
    layer: str = "",
    storage_key: str = "",
    found_sha256: str = "",
    expected_sha256: str = "",
    removed: bool = False,
) -> FixityFailure | None:
    """Record one failure and alert; None when the same failure is open already.

    A file's failure names its dataset and records a ``verification`` event
    on it; an orphan or a backup store's blob (no ``datafile``) names its ``layer`` and
    ``storage_key``.
    """
    fields: dict[str, Any] = {
        "layer": layer,
        "storage_key": storage_key,
        "expected_sha256": expected_sha256,
    }
    if datafile is not None:
        fields = {
            "datafile": datafile,
            "dataset_id": datafile.dataset_id,
            "layer": datafile.dataset.layer,
            "storage_key": datafile.storage_key,
            "expected_sha256": datafile.sha256,
        }
    try:
        with transaction.atomic():
            failure = FixityFailure.objects.create(
                kind=kind,
                found_by=found_by,
                detail=detail[:2000],
                found_sha256=found_sha256,
                removed=removed,
                **fields,
            )
            _event(failure, datafile)
    except IntegrityError:
        return None  # open already: seen before, alerted before
    transaction.on_commit(lambda: admins_alert(failure))
    return failure


def _event(failure: FixityFailure, datafile: DataFile | None) -> None:
    if datafile is None:
        return
    provenance_record(
        activity=Activity.VERIFICATION,
        actor=None,
        dataset=datafile.dataset,
        target_layer=failure.layer,
        parameters={
            "outcome": "failed",
            "kind": failure.kind,
            "path": datafile.path,
            "expected_sha256": failure.expected_sha256,
            "found_sha256": failure.found_sha256,
            "found_by": failure.found_by,
        },
        note=failure.detail,
    )


def admins_alert(failure: FixityFailure) -> None:
    """Mail every active admin about one failure."""
    subject = f"[lakeweb] fixity: {failure.get_kind_display()} in {failure.layer}"
    body = (
        f"{failure.detail}\n\nlayer: {failure.layer}\nkey: {failure.storage_key}\n"
        f"dataset: {failure.dataset_id or '-'}\n"
        f"expected SHA-256: {failure.expected_sha256 or '-'}\n"
        f"found SHA-256: {failure.found_sha256 or '-'}\nfound by: {failure.found_by}\n"
    )
    admins_mail(subject=subject, body=body)


def admins_mail(*, subject: str, body: str) -> None:
    """Mail every active admin (superuser with an address); log what could not be sent.

    What it reports is recorded and shown already: a mail outage must not hide it.
    """
    admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
    to = sorted({email for email in admins.values_list("email", flat=True) if email})
    if not to:
        logger.error("no admin address to mail: %s\n%s", subject, body)
        return
    try:
        send_mail(subject, body, None, to)
    except OSError:
        logger.exception("could not mail the admins: %s", subject)


def fixity_failure_resolve(*, failure: FixityFailure) -> None:
    """Close a failure (the object was restored or the orphan dealt with)."""
    from django.utils import timezone

    FixityFailure.objects.filter(pk=failure.pk, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


class VerifyingReader:
    """A file's stream that hashes what passes; at its end, a wrong SHA-256 raises.

    The mismatch is recorded (and alerted) before ChecksumMismatch is raised,
    so a stream that breaks off because of it is never silent. Bytes already
    sent cannot be taken back: callers end their response with an error so
    the client holds an incomplete file, never a wrong one.
    """

    def __init__(self, stream: IO[bytes], datafile: DataFile, *, found_by: str) -> None:
        self._stream, self.datafile, self.found_by = stream, datafile, found_by
        self._hash = hashlib.sha256()
        self.size = 0
        self._checked = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self.size += len(data)
        if not data or self.size > self.datafile.size:
            self._check()
        return data

    def _check(self) -> None:
        if self._checked:
            return
        self._checked = True
        digest = self._hash.hexdigest()
        if self.size == self.datafile.size and digest == self.datafile.sha256:
            return
        detail = (
            f"'{self.datafile.path}' of dataset {self.datafile.dataset_id} read back "
            f"with other bytes than were sealed ({self.size:,} bytes read, "
            f"{self.datafile.size:,} recorded); the {self.found_by} was broken off."
        )
        fixity_failure_record(
            kind=FixityKind.MISMATCH,
            found_by=self.found_by,
            detail=detail,
            datafile=self.datafile,
            found_sha256=digest if self.size <= self.datafile.size else "",
        )
        raise ChecksumMismatch(detail)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifyingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def datafile_open(*, datafile: DataFile, found_by: str) -> IO[bytes]:
    """The file's bytes as sealed: the recorded version where the store keeps versions.

    A missing object is recorded as a fixity failure (once) and ObjectMissing
    raised; callers that show it to people name the file (:func:`missing_message`).
    """
    store = layer_store(datafile.dataset.layer)
    try:
        return store.open(datafile.storage_key, version_id=datafile.version_id)
    except ObjectMissing:
        datafile_missing_record(datafile=datafile, found_by=found_by)
        raise


def datafile_open_verified(*, datafile: DataFile, found_by: str) -> VerifyingReader:
    """:func:`datafile_open`, hashed as it is read; a mismatch at the end is recorded and raised."""
    stream = datafile_open(datafile=datafile, found_by=found_by)
    return VerifyingReader(stream, datafile, found_by=found_by)


def missing_message(*, datafile: DataFile) -> str:
    return (
        f"'{datafile.path}' of this dataset is missing from the {datafile.dataset.layer} "
        "layer's storage; the admins have been told."
    )


def datafile_missing_record(*, datafile: DataFile, found_by: str) -> None:
    """Record (once) that a file's object is missing."""
    fixity_failure_record(
        kind=FixityKind.MISSING,
        found_by=found_by,
        detail=f"'{datafile.path}' of dataset {datafile.dataset_id} is missing from storage.",
        datafile=datafile,
    )
