"""The API's JSON bodies, bounded before they are parsed (SPEC §5).

Its own module: DRF reads ``DEFAULT_PARSER_CLASSES`` while ``rest_framework.views``
is imported, which ``lakeweb.api`` imports.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from .errors import BadInput, TooLarge
from .text import json_unstorable

# A JSON body nests a few levels (register: body, experiments, one experiment, a list);
# Python's parser recurses once a level and fails past ~1000 of them.
JSON_MAX_DEPTH = 20
_JSON_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_EMPTY_PAIRS = re.compile(r"\[\]|\{\}")
_OPENING = re.compile(r"[\[{]")


def json_too_deep(text: str, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests deeper than ``limit``, found without parsing it.

    Strings are set aside, then innermost bracket pairs removed ``limit``
    times over, each round a regular expression at C speed. Brackets that
    never pair (invalid JSON) count as levels when there are more than
    ``limit`` of them: the parser would recurse into them all the same.
    """
    brackets = _NOT_BRACKETS.sub("", _JSON_STRINGS.sub("", text))
    for _ in range(limit):
        fewer = _EMPTY_PAIRS.sub("", brackets)
        if fewer == brackets:  # nothing left, or nothing more pairs
            return len(_OPENING.findall(brackets)) > limit
        brackets = fewer
    return bool(brackets)


class JSONBodyParser(BaseParser):
    """JSON request bodies, bounded before they are parsed (SPEC §5).

    At most ``API_MAX_BODY_BYTES`` are read (413 past that), the nesting is
    bounded, and no text may hold a NUL or a lone surrogate (``lakeweb.text``).
    Not a JSONParser: DRF reads the whole body into memory for those first.
    """

    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise TooLarge(f"The JSON body is larger than the {limit:,} bytes allowed.")
        try:
            text = raw.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError("JSON parse error - the body is not UTF-8 text.") from None
        if json_too_deep(text):
            raise BadInput(f"The JSON body nests deeper than {JSON_MAX_DEPTH} levels.")
        try:
            # NaN and Infinity are not JSON (DRF's strict JSON); nor can PostgreSQL keep them.
            data = json.loads(text, parse_constant=_not_json, parse_float=_finite)
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        where = json_unstorable(data)
        if where:
            raise BadInput(
                f"In the JSON body, {where} holds a NUL (\\u0000) or a lone surrogate "
                "(\\ud800-\\udfff), which cannot be stored."
            )
        return data


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 reads as infinity
        raise ValueError(f"{text[:20]} is too large a number")
    return number
