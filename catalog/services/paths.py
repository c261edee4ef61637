"""Checks on the relative paths of uploaded files (SPEC §5).

A path must stay inside its dataset's folder, be printable, fit the store it
goes to (each store says what it can hold: ``LayerStore.max_*_bytes``), and
be unique after Unicode normalisation (NFC), which is the form it is stored
in. Every problem of an upload is reported at once (the first
``MAX_PROBLEMS_SHOWN``, and how many more).
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from itertools import pairwise

from django.conf import settings
from django.core.exceptions import ValidationError

from lakeweb.storage import layer_store

from ..models import Layer
from .datasets import storage_prefix_for

# Room under S3's 1024-byte keys for the dataset prefix (46 bytes) and the
# folders a backup snapshot adds in archive (about 50 more).
MAX_PATH_BYTES = 900
# Most filesystems cap one name at 255 bytes: a longer one could not be
# downloaded and unpacked, whatever store holds it.
MAX_SEGMENT_BYTES = 255
# Cc: NUL, newline, DEL, U+0085; Cf: format and bidi controls (U+202E, U+200E,
# zero-width characters), which make a name read as another; Cs: lone
# surrogates, which UTF-8 cannot store. U+2028/U+2029 end a line in many readers.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
LINE_SEPARATORS = frozenset("\u2028\u2029")
# A refusal lists this many problems and counts the rest.
MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class PathLimits:
    """The longest path, folder name and file name allowed, in UTF-8 bytes.

    ``holder`` says whose limits they are, for the messages.
    """

    path_bytes: int = MAX_PATH_BYTES
    folder_bytes: int = MAX_SEGMENT_BYTES
    name_bytes: int = MAX_SEGMENT_BYTES
    holder: str = ""

    def why(self, limit: int, general: int) -> str:
        if limit < general and self.holder:
            return f"the most the {self.holder} store holds"
        return "the most allowed"


def path_limits(*, layer: str) -> PathLimits:
    """The limits of a path in ``layer``: the general ones, or the store's when smaller."""
    store = layer_store(layer)
    prefix_bytes = len(storage_prefix_for(uuid.UUID(int=0)))
    return PathLimits(
        path_bytes=min(MAX_PATH_BYTES, store.max_key_bytes - prefix_bytes),
        folder_bytes=min(MAX_SEGMENT_BYTES, store.max_folder_name_bytes),
        name_bytes=min(MAX_SEGMENT_BYTES, store.max_file_name_bytes),
        holder=store.kind,
    )


def file_count_check(count: int) -> None:
    """Refuse an upload of more than UPLOAD_MAX_FILES files, before anything is built for it.

    Uploads through the web only: an ingest from the command line has no such limit.
    """
    if count > settings.UPLOAD_MAX_FILES:
        raise ValidationError(
            f"The upload has {count:,} files; one upload may hold at most "
            f"{settings.UPLOAD_MAX_FILES:,} (UPLOAD_MAX_FILES). Upload the folder as several "
            "datasets.",
            code="too_many",
        )


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character no name, path or prefix may hold (see above)."""
    if text.isprintable():  # the usual case, at C speed: none of them is printable
        return False
    return any(
        unicodedata.category(ch) in CONTROL_CATEGORIES or ch in LINE_SEPARATORS for ch in text
    )


def clean_path(raw: str, *, limits: PathLimits = PathLimits()) -> str:
    """Return the stored form of one relative path, or raise ValidationError."""
    shown = repr(raw)[1:-1][:200]
    if not raw or not raw.strip():
        raise ValidationError("A file has an empty name.", code="empty")
    if has_control_characters(raw):
        raise ValidationError(
            f"File name '{shown}' contains control characters "
            "(such as NUL, a newline or a right-to-left mark).",
            code="control",
        )
    if raw.startswith(("/", "\\")) or (len(raw) > 1 and raw[1] == ":"):
        raise ValidationError(
            f"File name '{shown}' is an absolute path; only paths inside the folder are allowed.",
            code="absolute",
        )
    if "\\" in raw:
        raise ValidationError(
            f"File name '{shown}' contains a backslash; use '/' between folders.", code="backslash"
        )
    path = unicodedata.normalize("NFC", raw)
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise ValidationError(
            f"File name '{shown}' has an empty, '.' or '..' part; paths must stay inside.",
            code="traversal",
        )
    _check_lengths(path, segments, limits)
    return path


def _check_lengths(path: str, segments: list[str], limits: PathLimits) -> None:
    size = len(path.encode())
    if size > limits.path_bytes:
        raise ValidationError(
            f"File path '{path[:80]}…' is {size} bytes long, longer than {limits.path_bytes} "
            f"bytes, {limits.why(limits.path_bytes, MAX_PATH_BYTES)}.",
            code="too_long",
        )
    *folders, name = segments
    long_folder = next((f for f in folders if len(f.encode()) > limits.folder_bytes), None)
    if long_folder is not None:
        raise ValidationError(
            f"A folder name in '{path[:80]}…' is longer than {limits.folder_bytes} bytes, "
            f"{limits.why(limits.folder_bytes, MAX_SEGMENT_BYTES)}.",
            code="too_long",
        )
    size = len(name.encode())
    if size > limits.name_bytes:
        raise ValidationError(
            f"A name in '{path[:80]}…' is {size} bytes long, longer than {limits.name_bytes} "
            f"bytes, {limits.why(limits.name_bytes, MAX_SEGMENT_BYTES)}.",
            code="too_long",
        )


def clean_paths(raw_paths: list[str], *, layer: str = Layer.RAW) -> list[str]:
    """Clean every path for ``layer``'s store; refuse an empty list and duplicates.

    Every problem is reported in one ValidationError (the first
    ``MAX_PROBLEMS_SHOWN`` of them, then how many more).
    """
    if not raw_paths:
        raise ValidationError("The upload has no files.", code="no_files")
    limits = path_limits(layer=layer)
    errors: list[ValidationError] = []
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for raw in raw_paths:
        try:
            path = clean_path(raw, limits=limits)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if path in seen:
            errors.append(_duplicate(raw, seen[path]))
        seen[path] = raw
        cleaned.append(path)
    errors += _files_that_are_folders(cleaned)
    if errors:
        raise ValidationError(_bounded(errors))
    return cleaned


def _duplicate(raw: str, first: str) -> ValidationError:
    if raw == first:
        return ValidationError(f"File path '{raw}' appears twice.", code="duplicate")
    return ValidationError(
        f"File names '{first}' and '{raw}' differ only in Unicode normalisation "
        f"(written {first!a} and {raw!a}): they print the same, so they "
        "would be one file. Rename one of them.",
        code="normalisation",
    )


def _files_that_are_folders(paths: list[str]) -> list[ValidationError]:
    """Paths that are also another path's folder, in O(n log n) however deep the tree.

    With '/' read as NUL (which no path holds), a folder's contents sort right
    after it, so comparing each path with the next one is enough.
    """
    keys = sorted(path.replace("/", "\0") for path in paths)
    both = [key.replace("\0", "/") for key, after in pairwise(keys) if after.startswith(key + "\0")]
    return [
        ValidationError(f"'{path}' is both a file and a folder.", code="file_folder")
        for path in both
    ]


def _bounded(errors: list[ValidationError]) -> list[ValidationError]:
    if len(errors) <= MAX_PROBLEMS_SHOWN:
        return errors
    rest = len(errors) - MAX_PROBLEMS_SHOWN
    return [
        *errors[:MAX_PROBLEMS_SHOWN],
        ValidationError(f"… and {rest} more problems with file names.", code="more"),
    ]
