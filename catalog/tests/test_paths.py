from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog.services import clean_path, clean_paths


@pytest.mark.parametrize(
    "raw, code",
    [
        ("../etc/passwd", "traversal"),
        ("a/../../b", "traversal"),
        ("a/./b", "traversal"),
        ("a//b", "traversal"),
        ("/etc/passwd", "absolute"),
        ("C:/Windows/system.ini", "absolute"),
        ("\\\\server\\share", "absolute"),
        ("a\\b.txt", "backslash"),
        ("bad\x00name", "control"),
        ("line\nbreak", "control"),
        ("", "empty"),
        ("a/" + "x" * 256, "too_long"),
        ("/".join(["d" * 200] * 5), "too_long"),
    ],
)
def test_clean_path_refuses(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        clean_path(raw)
    assert info.value.code == code
    assert info.value.messages[0]


@pytest.mark.parametrize(
    "raw", ["data.csv", "run 1/frame 001.tif", "données/été.txt", "日本/ファイル.bin", ".hidden"]
)
def test_clean_path_accepts_unicode_and_spaces(raw: str) -> None:
    assert clean_path(raw) == raw


def test_clean_path_stores_nfc() -> None:
    decomposed = "e\u0301te\u0301.txt"
    assert clean_path(decomposed) == "\u00e9t\u00e9.txt"


def test_clean_paths_refuses_empty_list() -> None:
    with pytest.raises(ValidationError, match="no files"):
        clean_paths([])


def test_clean_paths_refuses_duplicates_after_normalisation() -> None:
    with pytest.raises(ValidationError, match="appears twice"):
        clean_paths(["\u00e9.txt", "e\u0301.txt"])


def test_clean_paths_refuses_a_file_that_is_also_a_folder() -> None:
    with pytest.raises(ValidationError, match="both a file and a folder"):
        clean_paths(["a/b", "a/b/c.txt"])


def test_clean_paths_reports_every_bad_path() -> None:
    with pytest.raises(ValidationError) as info:
        clean_paths(["ok.txt", "../x", "/y"])
    assert len(info.value.messages) == 2
