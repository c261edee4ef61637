"""A bare WSGI app (no Django) that does only what an upload must do.

bench/upload.py serves it with the same gunicorn settings as lakeweb and
drives it with the same client and the same requests, to measure the
ceiling of lakeweb's upload protocol on this machine. It answers the
protocol's requests (login, start, chunks, batches, finish) and, for each
body, does the required work and nothing else:

- a chunk (PUT): read it a piece at a time, SHA-256 it (one hash per file,
  carried from chunk to chunk), write it in place at its offset in the
  file, ``fdatasync`` before answering;
- a batch of small files (POST, the files' bytes one after another, their
  ids in ``?files=``): split the body by the sizes, SHA-256 each,
  write each to its own file, ``fdatasync`` each (all written first, then
  all flushed, as the filesystem store does) before answering.

There are no database rows, no permission checks, no staging renames. With
``SINK_MODE=read`` a chunk is only read and thrown away: what the bytes cost
to receive. Any other request is read and thrown away too. Files go under
``SINK_DIR``; the chunk size it announces is ``SINK_CHUNK_SIZE``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

PIECE = 1024 * 1024  # as lakeweb reads a chunk
DIRECTORY = Path(os.environ.get("SINK_DIR") or Path(tempfile.gettempdir()) / "lakeweb-sink")
CHUNK_SIZE = int(os.environ.get("SINK_CHUNK_SIZE", str(32 * PIECE)))
READ_ONLY = os.environ.get("SINK_MODE") == "read"

Response = tuple[str, dict[str, Any] | None]
# The SHA-256 of each file as far as it is received, in this process. A
# file's chunks come on one keep-alive connection, so to one process.
_hashes: dict[str, Any] = {}
_lock = threading.Lock()


def _body(environ: dict[str, Any]) -> bytes:
    return environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))


def _pieces(environ: dict[str, Any]) -> Iterable[bytes]:
    stream, left = environ["wsgi.input"], int(environ.get("CONTENT_LENGTH") or 0)
    while left > 0:
        piece = stream.read(min(left, PIECE))
        if not piece:
            raise ValueError("the body ended early")
        left -= len(piece)
        yield piece


def start(environ: dict[str, Any]) -> Response:
    """Name the upload and its files; a file's id carries its size, so any process knows it."""
    form = parse_qs(_body(environ).decode())
    manifest = json.loads(form["manifest"][0])
    upload = uuid.uuid4().hex
    (DIRECTORY / upload).mkdir(parents=True)
    files = [
        {
            "id": f"{n}-{f['size']}",
            "path": f["path"],
            "size": f["size"],
            "received": 0,
            "chunk_size": CHUNK_SIZE,
            "complete": False,
        }
        for n, f in enumerate(manifest)
    ]
    return "201 Created", {"upload": upload, "status": "uploading", "files": files}


def chunk(environ: dict[str, Any], upload: str, file_id: str) -> Response:
    """Hash the chunk and write it in place as it arrives; flush it before answering."""
    if READ_ONLY:
        for _piece in _pieces(environ):
            pass
        return "200 OK", {}
    offset = int(parse_qs(environ["QUERY_STRING"])["offset"][0])
    size = int(file_id.split("-")[1])
    key = f"{upload}/{file_id}"
    with _lock:
        hasher = _hashes.pop(key, None) if offset else None
    hasher = hasher or hashlib.sha256()
    fd = os.open(DIRECTORY / upload / file_id, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        at = offset
        for piece in _pieces(environ):
            hasher.update(piece)
            view = memoryview(piece)
            while view:
                done = os.pwrite(fd, view, at)
                view, at = view[done:], at + done
        os.fdatasync(fd)
    finally:
        os.close(fd)
    if at < size:
        with _lock:
            _hashes[key] = hasher
        return "200 OK", {"received": at, "complete": False}
    return "200 OK", {"received": at, "complete": True, "sha256": hasher.hexdigest()}


def batch(environ: dict[str, Any], upload: str) -> Response:
    """Every small file of a batch body (the files one after another): hashed, written, then all flushed."""
    ids = parse_qs(environ["QUERY_STRING"])["files"][0].split(",")
    body = _body(environ)
    files, at = [], 0
    for file_id in ids:  # a file's id carries its size
        size = int(file_id.split("-")[1])
        data = body[at : at + size]
        at += size
        files.append((file_id, data, hashlib.sha256(data).hexdigest()))
    assert at == len(body), "the body is the listed files' bytes"
    handles = []
    try:
        for file_id, data, _digest in files:
            handle = open(DIRECTORY / upload / file_id, "wb")  # noqa: SIM115 - closed below
            handles.append(handle)
            handle.write(data)
        for handle in handles:
            handle.flush()
            os.fdatasync(handle.fileno())
    finally:
        for handle in handles:
            handle.close()
    return "200 OK", {"files": [{"id": i, "sha256": digest} for i, _data, digest in files]}


def finish(environ: dict[str, Any], upload: str) -> Response:
    _body(environ)
    return "200 OK", {"upload": upload}


def discard(environ: dict[str, Any]) -> Response:
    for _piece in _pieces(environ):
        pass
    return "200 OK", None


ROUTES: list[tuple[str, re.Pattern[str], Callable[..., Response]]] = [
    ("POST", re.compile(r"/datasets/upload/\d+/start/"), start),
    ("PUT", re.compile(r"/datasets/uploads/(\w+)/files/([\w-]+)/"), chunk),
    ("POST", re.compile(r"/datasets/uploads/(\w+)/batch/"), batch),
    ("POST", re.compile(r"/datasets/uploads/(\w+)/finish/"), finish),
]


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    handler: Callable[..., Response] = discard
    arguments: tuple[str, ...] = ()
    for verb, pattern, view in ROUTES:
        if verb == method and (match := pattern.fullmatch(path)):
            handler, arguments = view, match.groups()
    status, answer = handler(environ, *arguments)
    headers = [("Content-Type", "application/json" if answer is not None else "text/plain")]
    if path == "/accounts/login/":  # the client reads the CSRF cookie before it logs in
        headers.append(("Set-Cookie", "csrftoken=sink; Path=/"))
    start_response(status, headers)
    return [json.dumps(answer).encode() if answer is not None else b"ok"]
