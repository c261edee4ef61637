"""Checks on the relative paths of uploaded files (SPEC §5).

A path must stay inside its dataset's folder, be printable, fit the storage,
and be unique after Unicode normalisation (NFC), which is the form it is
stored in.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

# S3 keys are at most 1024 bytes; the dataset prefix takes ~50 of them.
MAX_PATH_BYTES = 900
# Most filesystems cap one name at 255 bytes.
MAX_SEGMENT_BYTES = 255
# Cc: NUL, newline, DEL, U+0085; Cf: format and bidi controls (U+202E, U+200E,
# zero-width characters), which make a name read as another; Cs: lone
# surrogates, which UTF-8 cannot store. U+2028/U+2029 end a line in many readers.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
LINE_SEPARATORS = frozenset("\u2028\u2029")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a character no name, path or prefix may hold (see above)."""
    if text.isprintable():  # the usual case, at C speed: none of them is printable
        return False
    return any(
        unicodedata.category(ch) in CONTROL_CATEGORIES or ch in LINE_SEPARATORS for ch in text
    )


def clean_path(raw: str) -> str:
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
    if len(path.encode()) > MAX_PATH_BYTES:
        raise ValidationError(
            f"File path '{shown[:80]}…' is longer than {MAX_PATH_BYTES} bytes.", code="too_long"
        )
    if any(len(segment.encode()) > MAX_SEGMENT_BYTES for segment in segments):
        raise ValidationError(
            f"A name in '{shown[:80]}…' is longer than {MAX_SEGMENT_BYTES} bytes.", code="too_long"
        )
    return path


def clean_paths(raw_paths: list[str]) -> list[str]:
    """Clean every path; refuse an empty list and duplicates (also after NFC)."""
    if not raw_paths:
        raise ValidationError("The upload has no files.", code="no_files")
    errors: list[ValidationError] = []
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for raw in raw_paths:
        try:
            path = clean_path(raw)
        except ValidationError as exc:
            errors.append(exc)
            continue
        if path in seen:
            errors.append(
                ValidationError(
                    f"File path '{raw}' appears twice (as '{seen[path]}' too).", code="duplicate"
                )
            )
        seen[path] = raw
        cleaned.append(path)
    folders = {path.rsplit("/", 1)[0] for path in cleaned if "/" in path}
    folders |= {
        folder.rsplit("/", i)[0] for folder in folders for i in range(folder.count("/") + 1)
    }
    errors += [
        ValidationError(f"'{path}' is both a file and a folder.", code="file_folder")
        for path in cleaned
        if path in folders
    ]
    if errors:
        raise ValidationError(errors)
    return cleaned
