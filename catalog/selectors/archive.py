"""A whole dataset as one zip, made while it is being sent (SPEC §3 item 2).

Memory stays constant whatever the size of the files: the standard
``zipfile`` writes into a sink that is emptied after every write, each file
is read from its layer store ``READ_CHUNK`` bytes at a time, and the file
rows come from the database in batches (``.iterator()``), so at any moment
the process holds one chunk of one file and one batch of rows. The only
thing that grows is the zip's central directory, which ``zipfile`` keeps
until the end to write it last: about a hundred bytes a file.

The archive is seekless, so every entry's CRC-32 and sizes follow its data
(a data descriptor) and the central directory carries them too, which is
what unzip tools read. Entries are stored, not compressed (lab data rarely
compresses and the CPU is better spent elsewhere), and zip64 is used for
any file that needs it, so files over 4 GiB and archives of more than
65,535 files work.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO, cast

from django.utils import timezone

from lakeweb.errors import ChecksumMismatch
from lakeweb.storage import ObjectMissing, StorageError

from ..models import DataFile, Dataset, DatasetStatus
from ..services.fixity import datafile_open_verified

READ_CHUNK = 1024 * 1024
# Headers of small files are sent together, not as thousands of tiny writes.
SEND_AT_LEAST = 256 * 1024
ROWS_PER_BATCH = 500


class _Sink:
    """A write-only file that gives back what was written since it was last drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self, at_least: int = 1) -> Iterator[bytes]:
        """What was written since the last drain, as one piece, once it is ``at_least`` bytes."""
        if self._size and self._size >= at_least:
            data = b"".join(self._parts)
            self._parts.clear()
            self._size = 0
            yield data


@dataclass(frozen=True)
class ZipMember:
    """One file to put in the archive: its name there, size, date and how to open it."""

    name: str
    size: int
    date_time: tuple[int, int, int, int, int, int]
    open: Callable[[], IO[bytes]]


def zip_stream(members: Iterable[ZipMember]) -> Iterator[bytes]:
    """A zip of ``members`` as bytes, in pieces of about READ_CHUNK + SEND_AT_LEAST at most.

    A member that cannot be read (missing, or not the bytes sealed) ends the
    archive: an entry ``ERROR.txt`` saying which file and why is sent, then
    ZipBroken is raised without the central directory, so the client holds
    an archive that says it is incomplete, never a silently wrong one.
    """
    sink = _Sink()
    # The sink has no tell(): zipfile then writes a seekless archive.
    archive = zipfile.ZipFile(cast("IO[bytes]", sink), mode="w", compression=zipfile.ZIP_STORED)
    members = iter(members)
    try:
        for member in members:
            try:
                yield from _member_write(archive, sink, member)
            except (StorageError, ChecksumMismatch) as exc:
                yield from _trailer(archive, sink, member, exc)
                raise ZipBroken(f"the zip stopped at '{member.name}': {exc}") from exc
    finally:
        # The rows come from a database cursor: closed now, not whenever the
        # broken generator is collected (by then its transaction may be gone).
        close = getattr(members, "close", None)
        if close is not None:
            close()
    archive.close()
    yield from sink.drain()


def _member_write(archive: zipfile.ZipFile, sink: _Sink, member: ZipMember) -> Iterator[bytes]:
    info = zipfile.ZipInfo(member.name, date_time=member.date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = member.size  # zipfile picks zip64 from the announced size
    info.external_attr = 0o644 << 16
    with member.open() as source, archive.open(info, mode="w") as target:
        while chunk := source.read(READ_CHUNK):
            target.write(chunk)
            yield from sink.drain(SEND_AT_LEAST)
    yield from sink.drain(SEND_AT_LEAST)


def _trailer(
    archive: zipfile.ZipFile, sink: _Sink, member: ZipMember, exc: Exception
) -> Iterator[bytes]:
    """The ERROR.txt entry that ends a broken archive.

    What the cut entry left unsent (its data descriptor, with the CRC of the
    bytes read) is dropped, so no tool can take that entry for a whole file.
    """
    if isinstance(exc, ObjectMissing):
        text = f"'{member.name}' is missing from storage; the archive stops here.\n"
    elif isinstance(exc, ChecksumMismatch):
        text = f"'{member.name}' is not the file that was sealed; the archive stops here.\n"
    else:
        text = f"'{member.name}' could not be read from storage; the archive stops here.\n"
    list(sink.drain())
    info = zipfile.ZipInfo("ERROR.txt", date_time=member.date_time)
    archive.writestr(info, text.encode())
    yield from sink.drain()


class ZipBroken(Exception):
    """The archive could not be completed; its last entry, ERROR.txt, says why."""


def dataset_date_time(dataset: Dataset) -> tuple[int, int, int, int, int, int]:
    moment = timezone.localtime(dataset.sealed_at or dataset.created_at)
    return (
        max(moment.year, 1980),
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


def dataset_zip_members(
    *, dataset: Dataset, prefix: str = "", found_by: str = "zip"
) -> Iterator[ZipMember]:
    """Every file of a ready dataset in path order, at ``prefix`` + its path, hashed as read.

    The sealed version is read; a missing object is recorded as a fixity
    failure (once) and raises ObjectMissing naming the file. ``found_by``
    names the archive in what a failure records (zip, BagIt bag, RO-Crate).
    """
    date_time = dataset_date_time(dataset)
    rows = dataset.files.order_by("path").only(
        "id", "dataset_id", "path", "size", "sha256", "storage_key", "version_id"
    )
    for datafile in rows.iterator(chunk_size=ROWS_PER_BATCH):
        datafile.dataset = dataset  # one dataset for all: no query per file
        opener = partial(_open_member, datafile, found_by)
        yield ZipMember(prefix + datafile.path, datafile.size, date_time, opener)


def _open_member(datafile: DataFile, found_by: str) -> IO[bytes]:
    return cast("IO[bytes]", datafile_open_verified(datafile=datafile, found_by=found_by))


def dataset_zip(*, dataset: Dataset) -> Iterator[bytes]:
    """The dataset as a streamed zip (see module doc); only for a ready dataset.

    A storage failure or a file whose bytes are not those sealed ends the
    archive with ERROR.txt and raises ZipBroken: the download breaks off and
    the client sees an incomplete archive, never a wrong one.
    """
    if dataset.status != DatasetStatus.READY:
        raise ValueError("only a ready dataset can be zipped")
    return zip_stream(dataset_zip_members(dataset=dataset))


def dataset_zip_filename(*, dataset: Dataset) -> str:
    """``<name>-<layer>.zip`` with only letters, digits, dot, dash and underscore."""
    name = re.sub(r"[^\w.-]+", "_", dataset.name).strip("._-")[:100] or "dataset"
    return f"{name}-{dataset.layer}.zip"
