from __future__ import annotations

import tracemalloc

import pytest
from django.core.exceptions import ValidationError

from catalog.services import clean_path, clean_paths, paths
from catalog.services.paths import MAX_PROBLEMS_SHOWN, file_count_check, has_control_characters
from lakeweb.storage import layer_store
from lakeweb.storage.filesystem import PARTIAL_AFFIX_BYTES


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


def test_clean_paths_refuses_duplicates() -> None:
    with pytest.raises(ValidationError, match=r"File path 'a/b\.txt' appears twice\."):
        clean_paths(["a/b.txt", "a/b.txt"])


def test_clean_paths_says_when_two_names_differ_only_in_normalisation() -> None:
    with pytest.raises(ValidationError) as info:
        clean_paths(["\u00e9.txt", "e\u0301.txt"])
    (message,) = info.value.messages
    assert "differ only in Unicode normalisation" in message
    assert "they print the same" in message
    assert "'\\xe9.txt' and 'e\\u0301.txt'" in message  # how each is written


def test_clean_paths_refuses_a_file_that_is_also_a_folder() -> None:
    with pytest.raises(ValidationError, match="both a file and a folder"):
        clean_paths(["a/b", "a/b/c.txt"])


def test_clean_paths_reports_every_bad_path() -> None:
    with pytest.raises(ValidationError) as info:
        clean_paths(["ok.txt", "../x", "/y"])
    assert len(info.value.messages) == 2


def test_clean_paths_lists_the_first_problems_and_counts_the_rest() -> None:
    raw = [f"../bad{i}.txt" for i in range(MAX_PROBLEMS_SHOWN + 7)]
    with pytest.raises(ValidationError) as info:
        clean_paths(["fine.txt", *raw])
    messages = info.value.messages
    assert len(messages) == MAX_PROBLEMS_SHOWN + 1
    assert "'../bad0.txt'" in messages[0]
    assert f"'../bad{MAX_PROBLEMS_SHOWN - 1}.txt'" in messages[-2]
    assert messages[-1] == "… and 7 more problems with file names."


def test_a_deep_tree_of_distinct_folders_is_checked_in_linear_memory() -> None:
    # Each file in its own 400-level folder: the old check built every
    # ancestor of every folder (800,000 strings of up to 800 bytes here).
    deep = "/".join(["d"] * 400)
    many = [f"{i}/{deep}/f" for i in range(2_000)]
    tracemalloc.start()
    assert len(clean_paths(many)) == len(many)
    with pytest.raises(ValidationError, match=r"'7/d/d' is both a file and a folder\."):
        clean_paths([*many, "7/d/d"])
    _now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20e6


def test_the_filesystem_store_limits_a_file_name_by_its_staging_name(filesystem_lake) -> None:
    store = layer_store("raw")
    assert store.max_file_name_bytes == 255 - PARTIAL_AFFIX_BYTES == 213
    assert clean_paths(["run/" + "n" * 213]) == ["run/" + "n" * 213]
    with pytest.raises(ValidationError) as info:
        clean_paths(["run/" + "n" * 214, "é" * 107 + "/ok.txt"])
    assert info.value.messages == [
        f"A name in 'run/{'n' * 76}…' is 214 bytes long, longer than 213 bytes, "
        "the most the filesystem store holds."
    ]


def test_s3_takes_names_up_to_the_general_limit(s3_lake) -> None:
    assert clean_paths(["run/" + "n" * 255]) == ["run/" + "n" * 255]
    with pytest.raises(ValidationError, match="is 256 bytes long, longer than 255 bytes, the most"):
        clean_paths(["run/" + "n" * 256])


def test_s3_limits_a_path_by_its_key_with_the_dataset_prefix(s3_lake, monkeypatch) -> None:
    monkeypatch.setattr(paths, "MAX_PATH_BYTES", 4096)  # let the store's limit show
    prefix = len("datasets/00000000-0000-0000-0000-000000000000/")
    longest = "/".join(["d" * 99] * 9) + "/" + "f" * (1024 - prefix - 900)
    assert len(longest.encode()) == 1024 - prefix
    assert clean_paths([longest]) == [longest]
    with pytest.raises(ValidationError) as info:
        clean_paths([longest + "x"])
    assert "979 bytes long, longer than 978 bytes, the most the S3 store holds." in str(info.value)


def test_a_count_over_the_limit_is_refused(settings) -> None:
    settings.UPLOAD_MAX_FILES = 3
    file_count_check(3)
    with pytest.raises(ValidationError) as info:
        file_count_check(4)
    assert info.value.messages == [
        "The upload has 4 files; one upload may hold at most 3 (UPLOAD_MAX_FILES). "
        "Upload the folder as several datasets."
    ]
