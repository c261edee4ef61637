"""JSON from requests: bounded in size, depth and length before it is parsed."""

from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import ValidationError

from lakeweb.jsonbounds import json_items, json_parse_bounded


def _refusal(text: str, **bounds) -> str:
    with pytest.raises(ValidationError) as info:
        json_parse_bounded(text, what="The list", **bounds)
    return " ".join(info.value.messages)


@pytest.mark.parametrize(
    "text, items",
    [
        ("[]", 0),
        (" [ ] ", 0),
        ("[1, 2, 3]", 3),
        ('[{"path": "a,b", "size": 1}, {"path": "[{x}]", "size": 2}]', 2),
        ('["a\\\\", "b\\"],["]', 2),
        ('{"a": 1, "b": [1, 2]}', 2),
        ('"a string"', 0),
    ],
)
def test_items_of_the_outer_container_are_counted_without_parsing(text: str, items: int) -> None:
    assert json_items(text, what="x", max_chars=1000, max_depth=2) == items


def test_deep_nesting_is_refused_before_parsing() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    started = time.perf_counter()
    refusal = _refusal(deep, max_chars=10**6, max_depth=2)
    assert refusal == "The list is nested more than 2 levels deep."
    assert time.perf_counter() - started < 1
    assert "nested more than 1 levels" in _refusal('[["a"]]', max_chars=100, max_depth=1)


def test_nesting_within_the_bound_parses() -> None:
    text = '[{"path": "a/[b]", "size": 1}]'
    assert json_parse_bounded(text, what="x", max_chars=100, max_depth=2) == json.loads(text)


def test_too_long_and_too_many_are_refused() -> None:
    assert _refusal("[1, 2, 3]", max_chars=5, max_depth=1) == (
        "The list is 9 characters long; at most 5 are allowed."
    )
    assert _refusal("[1, 2, 3]", max_chars=50, max_depth=1, max_items=2) == (
        "The list holds 3 entries; at most 2 are allowed."
    )


@pytest.mark.parametrize("text", ["not json", "[[[", "[1,", '["\\ud800"', "]]][[["])
def test_malformed_json_is_refused(text: str) -> None:
    assert _refusal(text, max_chars=100, max_depth=3) == "The list is not valid JSON."
