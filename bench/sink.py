"""A WSGI app that reads each request body and throws it away.

bench/upload.py serves it with the same gunicorn settings as lakeweb to
measure the ceiling of any upload through a Python WSGI server on this
machine: what the bytes cost to receive before lakeweb does anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        piece = stream.read(min(left, 4 * 1024 * 1024))
        if not piece:
            break
        left -= len(piece)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
