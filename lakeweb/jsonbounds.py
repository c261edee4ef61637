"""JSON from a request, its size, nesting and length bounded before it is parsed (SPEC §5).

``json.loads`` recurses once per level of nesting (a body of 100,000 ``[``
costs a RecursionError, a 500) and builds every value it reads (600,000
entries cost hundreds of megabytes). So the text is measured first, at C
speed and without building anything: its length, then its shape with the
strings blanked out, peeled one level of brackets at a time.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.exceptions import ValidationError

# Bytes that make a JSON text's shape; every other byte (UTF-8 beyond ASCII
# included) is deleted before the shape is read.
_SHAPE = b'"[]{},'
_NOT_SHAPE = bytes(b for b in range(256) if b not in _SHAPE)
_STRING = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[,*\]|\{,*\}")


def json_parse_bounded(
    text: str,
    *,
    what: str,
    max_chars: int,
    max_depth: int,
    max_items: int | None = None,
    items_are: str = "entries",
) -> Any:
    """Parse ``text`` if it is at most ``max_chars`` long and nested ``max_depth`` deep.

    ``max_items`` bounds how many values the outermost array or object holds.
    Anything else, or text that is not JSON, is a ValidationError naming ``what``.
    """
    items = json_items(text, what=what, max_chars=max_chars, max_depth=max_depth)
    if max_items is not None and items > max_items:
        raise ValidationError(
            f"{what} holds {items:,} {items_are}; at most {max_items:,} are allowed."
        )
    return json_parse(text, what=what)


def json_items(text: str, *, what: str, max_chars: int, max_depth: int) -> int:
    """How many values the outermost array or object of ``text`` holds, parsing nothing.

    Refuses (ValidationError) text longer than ``max_chars`` or nested deeper than
    ``max_depth``; call :func:`json_parse` next.
    """
    if len(text) > max_chars:
        raise ValidationError(
            f"{what} is {len(text):,} characters long; at most {max_chars:,} are allowed."
        )
    return _outer_items(text, what=what, max_depth=max_depth)


def json_parse(text: str, *, what: str) -> Any:
    """``json.loads``, its failures a ValidationError; bound ``text`` first (json_items)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationError(f"{what} is not valid JSON.") from None


def _outer_items(text: str, *, what: str, max_depth: int) -> int:
    """How many values the outermost container holds; refuses nesting beyond ``max_depth``.

    Only C-speed passes that copy the text whole (no list of its pieces, no
    Python loop per character): a 24 MB list of 600,000 files is measured
    holding a few copies of itself.
    """
    shape = _shape(text)
    depth = _depth(shape.replace(b",", b""), max_depth=max_depth)
    if depth is None:
        raise ValidationError(f"{what} is nested more than {max_depth} levels deep.")
    if depth < 0:
        raise ValidationError(f"{what} is not valid JSON.")
    if depth == 0:
        return 0
    if depth == 1:
        inside = shape.strip()[1:-1]
        return inside.count(b",") + 1 if inside else 0
    # Depth 2 and more: the commas of the outermost container are those of no inner one.
    inner = _peeled(shape, levels=depth - 2)
    nested = sum(m.end() - m.start() - 2 for m in _INNERMOST.finditer(inner))
    top = inner.strip()[1:-1]
    return top.count(b",") - nested + 1 if top else 0


def _shape(text: str) -> bytes:
    """The text's brackets and commas outside strings, in order."""
    data = text.encode("utf-8", "surrogatepass")
    data = data.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes: now every " delimits
    data = data.translate(None, delete=_NOT_SHAPE)
    # A pair of quotes side by side is an empty string or the seam of two
    # strings; dropping it leaves every other byte inside or outside as it was.
    data = data.replace(b'""', b"")
    return _STRING.sub(b"", data)  # strings that held brackets or commas


def _depth(brackets: bytes, *, max_depth: int) -> int | None:
    """How deep ``brackets`` nest, a level a pass: None beyond ``max_depth``, -1 if unpaired."""
    for depth in range(max_depth + 1):
        if not brackets:
            return depth
        peeled = brackets.replace(b"[]", b"\0").replace(b"{}", b"\0").replace(b"\0", b"")
        if peeled == brackets:  # brackets that do not pair up
            return -1
        brackets = peeled
    return None


def _peeled(shape: bytes, *, levels: int) -> bytes:
    for _level in range(levels):
        shape = _INNERMOST.sub(b"", shape)
    return shape
