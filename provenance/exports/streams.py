"""Generated text the export archives feed to ``zip_stream`` (manifests, crate metadata).

Read ``READ_CHUNK`` bytes at a time, keeping at most one piece in memory, so
a 100,000-file manifest or crate costs what one file does. The payload files
are the zip's own members (``dataset_zip_members``): read at their sealed
version and hashed as they pass, a mismatch recorded as a fixity failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, cast


def as_stream(reader: GeneratedFile) -> IO[bytes]:
    """A reader typed as the stream ``zip_stream`` takes (it reads, closes, is a context)."""
    return cast("IO[bytes]", reader)


class GeneratedFile:
    """A read-only file over text pieces made on demand; hashes what it gives out.

    ``on_close`` gets the SHA-256 once everything was read, which is how a
    bag's tag manifest learns the digests of the tag files streamed before it.
    """

    def __init__(
        self, pieces: Iterable[str], *, on_close: Callable[[str], None] | None = None
    ) -> None:
        self._pieces: Iterator[str] = iter(pieces)
        self._buffer = bytearray()
        self._hash = hashlib.sha256()
        self._on_close = on_close
        self._done = False

    def read(self, size: int = -1) -> bytes:
        # A bytearray grows in place: no copy per small piece (a manifest has one a line).
        while not self._done and (size < 0 or len(self._buffer) < size):
            piece = next(self._pieces, None)
            if piece is None:
                self._done = True
            else:
                self._buffer += piece.encode()
        cut = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        with memoryview(self._buffer) as view:  # one copy out, not two
            data = bytes(view[:cut])
        del self._buffer[:cut]
        self._hash.update(data)
        return data

    def close(self) -> None:
        if self._done and not self._buffer and self._on_close is not None:
            self._on_close(self._hash.hexdigest())
            self._on_close = None

    def __enter__(self) -> GeneratedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
