"""The API's JSON bodies, bounded before they are parsed (SPEC §5).

Its own module: DRF reads ``DEFAULT_PARSER_CLASSES`` while ``rest_framework.views``
is imported, which ``lakeweb.api`` imports.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer

from .errors import BadInput, TooLarge
from .jsonbounds import json_items
from .text import json_unstorable

# A JSON body nests a few levels (register: body, experiments, one experiment, a list);
# Python's parser recurses once a level and fails past ~1000 of them.
JSON_MAX_DEPTH = 20


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
        try:  # measured without parsing: the one bound on JSON's shape (lakeweb.jsonbounds)
            json_items(text, what="The JSON body", max_chars=limit, max_depth=JSON_MAX_DEPTH)
        except ValidationError as exc:
            raise BadInput(exc.messages[0]) from None
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
