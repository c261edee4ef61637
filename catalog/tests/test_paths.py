from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from catalog.services import clean_path, clean_paths
from catalog.services.paths import has_control_characters


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
        ("del\x7f", "control"),
        ("next\x85line", "control"),
        ("invoice\u202etxt.exe", "control"),
        ("left\u200eto-right", "control"),
        ("zero\u200bwidth", "control"),
        ("bom\ufeff.txt", "control"),
        ("line\u2028separator", "control"),
        ("paragraph\u2029separator", "control"),
        ("lone\ud800surrogate", "control"),
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


@pytest.mark.parametrize(
    "text", ["run 1/été.txt", "日本\u3000語", "no\u00a0break", "private\ue000use", ""]
)
def test_printable_text_and_spaces_are_no_control_characters(text: str) -> None:
    assert not has_control_characters(text)


@pytest.mark.parametrize("char", ["\x00", "\t", "\x1b", "\x7f", "\x85", "\u061c", "\u2066"])
def test_control_and_bidi_characters_are_found_anywhere(char: str) -> None:
    assert has_control_characters(char)
    assert has_control_characters(f"a/b{char}/c.txt")


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
