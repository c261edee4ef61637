"""Readers the export archives feed to ``zip_stream``: verified files, generated text.

Both are read ``READ_CHUNK`` bytes at a time and keep at most one piece in
memory, so a 100,000-file manifest or crate costs what one file does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import IO, cast

from lakeweb.errors import ChecksumMismatch


class VerifiedReader:
    """A stored file, read through; at its end it raises unless size and SHA-256 are as recorded.

    An archive must never carry bytes its manifest does not vouch for: the
    exception breaks the download off before the archive's directory is
    sent, so the client holds an archive that no tool opens as complete.
    """

    def __init__(self, stream: IO[bytes], *, path: str, size: int, sha256: str) -> None:
        self._stream = stream
        self._hash = hashlib.sha256()
        self._read = 0
        self.path, self.size, self.sha256 = path, size, sha256

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._hash.update(data)
        self._read += len(data)
        if self._read > self.size:
            raise ChecksumMismatch(
                f"{self.path}: more bytes in storage than the {self.size} recorded"
            )
        if not data:
            self._check()
        return data

    def _check(self) -> None:
        if self._read != self.size:
            raise ChecksumMismatch(
                f"{self.path}: {self._read} bytes in storage, {self.size} recorded"
            )
        if self._hash.hexdigest() != self.sha256:
            raise ChecksumMismatch(
                f"{self.path}: storage holds SHA-256 {self._hash.hexdigest()},"
                f" recorded {self.sha256}"
            )

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> VerifiedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def verified_opener(
    open_: Callable[[str], IO[bytes]], *, key: str, path: str, size: int, sha256: str
) -> Callable[[], IO[bytes]]:
    """What ``ZipMember.open`` calls: the stored object, checked as it is read."""
    return lambda: as_stream(VerifiedReader(open_(key), path=path, size=size, sha256=sha256))


def as_stream(reader: VerifiedReader | GeneratedFile) -> IO[bytes]:
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
