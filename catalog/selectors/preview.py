"""Safe previews of a file's head: a table for CSV/TSV, text, or an image.

Only the head of a file is read (``HEAD_BYTES``), so a preview costs the
same for a 1 KB and a 50 GB file. Everything shown goes through template
autoescaping; images are served only when their first bytes prove them PNG,
JPEG, GIF or WebP (never SVG, which can carry script), with the type those
bytes name rather than the one the file name claims.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..models import DataFile
from ..services.fixity import VerifyingReader, datafile_open, datafile_open_verified

HEAD_BYTES = 256 * 1024
TABLE_ROWS = 50
IMAGE_MAX_BYTES = 20 * 1024 * 1024
READ_CHUNK = 1024 * 1024

DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
TABLE_TYPES = {"text/csv": ",", "text/tab-separated-values": "\t"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
TEXT_EXTENSIONS = {
    # prose, logs and configuration
    ".txt", ".text", ".md", ".markdown", ".rst", ".log", ".out", ".err",
    ".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf",
    ".xml", ".html", ".htm", ".css", ".tex", ".bib", ".csl",
    # code
    ".py", ".r", ".rmd", ".jl", ".m", ".sh", ".bash", ".sql", ".js", ".ts",
    ".c", ".h", ".cpp", ".hpp", ".java", ".go", ".rs", ".pl", ".nf", ".smk", ".wdl", ".cwl",
    # sequence and annotation formats are text too
    ".fasta", ".fa", ".fna", ".faa", ".fastq", ".fq", ".gff", ".gff3", ".gtf",
    ".vcf", ".sam", ".bed", ".pdb", ".cif", ".mtx",
}  # fmt: skip
TEXT_TYPES = {"application/json", "application/xml", "application/yaml", "application/x-yaml"}


class PreviewRefused(Exception):
    """This file has no preview of this kind; the message says why."""


def _extension(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def preview_kind(*, name: str, content_type: str) -> str | None:
    """'table', 'text', 'image' or None, from the name and recorded type alone.

    Cheap enough for every row of the file tree; an image is confirmed by its
    bytes only when it is shown.
    """
    extension, kind = _extension(name), content_type.split(";")[0].strip().lower()
    if extension in DELIMITERS or (not extension and kind in TABLE_TYPES):
        return "table"
    if extension in IMAGE_EXTENSIONS or kind in IMAGE_TYPES:
        return "image"
    if extension in TEXT_EXTENSIONS or kind.startswith("text/") or kind in TEXT_TYPES:
        return "text"
    return None


def image_type(head: bytes) -> str | None:
    """The image type named by a file's first bytes, for the four kinds shown inline."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Preview:
    """What the preview page shows; ``kind`` None means no preview, ``reason`` why."""

    kind: str | None
    rows: list[list[str]] = field(default_factory=list)
    text: str = ""
    truncated: bool = False
    image_type: str = ""
    reason: str = ""


def _head(datafile: DataFile, limit: int) -> bytes:
    """The file's first ``limit`` bytes; a file read whole is proven against its SHA-256."""
    if datafile.size > limit:
        with datafile_open(datafile=datafile, found_by="preview") as stream:
            return stream.read(limit)
    with datafile_open_verified(datafile=datafile, found_by="preview") as verified:
        data = verified.read(limit)
        verified.read(1)  # the end: where the SHA-256 is compared (and more bytes found)
        return data


def _decode(data: bytes, *, complete: bool) -> str:
    # A head cut in the middle of a UTF-8 sequence drops that last character
    # instead of showing a replacement mark for it.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    return decoder.decode(data, final=complete)


def _table(text: str, *, delimiter: str, complete: bool) -> list[list[str]]:
    if not complete and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # the last line was cut: leave it out
    rows = []
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
        rows.append(row)
        if len(rows) == TABLE_ROWS:
            break
    width = max((len(row) for row in rows), default=0)
    return [row + [""] * (width - len(row)) for row in rows]  # ragged rows, square table


def _delimiter(datafile: DataFile) -> str:
    kind = datafile.content_type.split(";")[0].strip().lower()
    return DELIMITERS.get(_extension(datafile.name)) or TABLE_TYPES.get(kind, ",")


def datafile_preview(*, datafile: DataFile) -> Preview:
    """The preview of one file, reading at most its first ``HEAD_BYTES``.

    Raises StorageError when the store cannot be read (ObjectMissing when the
    object is gone), ChecksumMismatch when a file read whole is not what was sealed.
    """
    kind = preview_kind(name=datafile.name, content_type=datafile.content_type)
    if kind is None:
        return Preview(kind=None, reason="No preview for this kind of file.")
    if kind == "image":
        return _image_preview(datafile)
    complete = datafile.size <= HEAD_BYTES
    text = _decode(_head(datafile, HEAD_BYTES), complete=complete)
    if kind == "table":
        try:
            rows = _table(text, delimiter=_delimiter(datafile), complete=complete)
            return Preview(
                kind="table", rows=rows, truncated=not complete or len(rows) == TABLE_ROWS
            )
        except csv.Error:
            pass  # not the CSV its name says (a field past csv's limit, say): show the text
    return Preview(kind="text", text=text, truncated=not complete)


def _image_preview(datafile: DataFile) -> Preview:
    try:
        _size_check(datafile)
        found = _type_check(_head(datafile, 16))
    except PreviewRefused as refused:
        return Preview(kind=None, reason=str(refused))
    return Preview(kind="image", image_type=found)


def _size_check(datafile: DataFile) -> None:
    if datafile.size > IMAGE_MAX_BYTES:
        limit = IMAGE_MAX_BYTES // (1024 * 1024)
        raise PreviewRefused(f"This image is too large to show here (over {limit} MiB).")


def _type_check(head: bytes) -> str:
    found = image_type(head)
    if found is None:
        raise PreviewRefused(
            "This file does not start like a PNG, JPEG, GIF or WebP image, so it is not shown."
        )
    return found


class ImageStream:
    """The bytes of an image proven by its head, in one pass: the head, then the rest.

    Closing it closes the stored object, read or not (a response closes it).
    """

    def __init__(self, content_type: str, head: bytes, stream: VerifyingReader) -> None:
        self.content_type = content_type
        self._head = head
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        while chunk := self._stream.read(READ_CHUNK):
            yield chunk

    def close(self) -> None:
        self._stream.close()


def datafile_image(*, datafile: DataFile) -> ImageStream:
    """The image to serve inline; PreviewRefused when it is not one that is shown.

    The head read to check the type is served first, so the object is opened
    once, and hashed as it streams (a mismatch at its end breaks the response
    off). Raises StorageError when the store cannot be read.
    """
    if preview_kind(name=datafile.name, content_type=datafile.content_type) != "image":
        raise PreviewRefused("Only PNG, JPEG, GIF and WebP images are shown inline.")
    _size_check(datafile)
    stream = datafile_open_verified(datafile=datafile, found_by="preview")
    try:
        head = stream.read(16)
        found = _type_check(head)
    except Exception:
        stream.close()
        raise
    return ImageStream(found, head, stream)
