"""Where an ingest reads from: a local folder, or a prefix on the lake's S3 endpoint.

Each origin lists its files (reporting every problem, skipping nothing
silently) and opens one file as a stream whose read failures are OSError.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from lakeweb.storage import StorageError


@dataclass(frozen=True)
class SourceFile:
    """One file found at the origin: its relative path as found, where to read it, its size."""

    path: str
    location: str
    size: int


class Origin(Protocol):
    label: str

    def scan(self) -> tuple[list[SourceFile], list[str]]:
        """Every file, and the problems found (each a message for the user)."""

    def open(self, file: SourceFile) -> IO[bytes]:
        """A readable stream of one file; read failures raise OSError."""


def shown(text: str) -> str:
    return repr(text)[1:-1]


class LocalFolder:
    """A folder on this machine. Links are not followed: a link is a problem, not a file."""

    def __init__(self, origin: str) -> None:
        self.root = os.path.abspath(origin)
        self.label = self.root

    def scan(self) -> tuple[list[SourceFile], list[str]]:
        if not os.path.isdir(self.root):
            what = "is not a folder" if os.path.exists(self.root) else "does not exist"
            raise ValidationError(f"{shown(self.root)} {what}.", code="no_folder")
        files: list[SourceFile] = []
        problems: list[str] = []

        def unreadable(exc: OSError) -> None:
            problems.append(f"Folder '{shown(str(exc.filename))}' cannot be read: {exc.strerror}.")

        for folder, dirnames, filenames in os.walk(self.root, onerror=unreadable):
            dirnames.sort()
            for name in dirnames:
                if os.path.islink(os.path.join(folder, name)):
                    rel = self._relative(os.path.join(folder, name))
                    problems.append(f"'{shown(rel)}' is a symbolic link; links are not followed.")
            for name in sorted(filenames):
                self._add(os.path.join(folder, name), files, problems)
        return files, problems

    def _relative(self, full: str) -> str:
        return PurePath(os.path.relpath(full, self.root)).as_posix()

    def _add(self, full: str, files: list[SourceFile], problems: list[str]) -> None:
        rel = self._relative(full)
        try:
            info = os.lstat(full)
            rel.encode()
        except UnicodeEncodeError:
            problems.append(f"File name '{shown(rel)}' is not valid UTF-8.")
            return
        except OSError as exc:
            problems.append(f"'{shown(rel)}' cannot be read: {exc.strerror}.")
            return
        if stat.S_ISLNK(info.st_mode):
            problems.append(f"'{shown(rel)}' is a symbolic link; links are not followed.")
        elif not stat.S_ISREG(info.st_mode):
            problems.append(f"'{shown(rel)}' is not a regular file (a pipe, socket or device).")
        elif not os.access(full, os.R_OK):
            problems.append(f"'{shown(rel)}' cannot be read: permission denied.")
        else:
            files.append(SourceFile(path=rel, location=full, size=info.st_size))

    def open(self, file: SourceFile) -> IO[bytes]:
        return open(file.location, "rb")


class _S3Body:
    """An S3 object's body whose read failures are OSError, like a file's."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        try:
            return self._body.read(None if size < 0 else size)
        except BotoCoreError as exc:
            raise OSError(str(exc)) from exc

    def __enter__(self) -> _S3Body:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._body.close()


class S3Prefix:
    """Every object under ``s3://bucket/prefix/`` on the lake's S3 endpoint."""

    def __init__(self, origin: str, *, connections: int = 10) -> None:
        from lakeweb.storage.s3client import s3_client, s3_config  # boto3 only when S3 is used

        parts = urlsplit(origin)
        if not parts.netloc:
            raise ValidationError(f"'{shown(origin)}' names no bucket; use s3://bucket/prefix/.")
        self.bucket = parts.netloc
        prefix = parts.path.lstrip("/")
        # The prefix is a folder: "s3://b/run1" must not take in "run10/".
        self.prefix = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
        self.label = f"s3://{self.bucket}/{self.prefix}"
        # One connection per worker thread that reads from the prefix.
        self.client = s3_client(config=s3_config(max_pool_connections=max(10, connections)))

    def scan(self) -> tuple[list[SourceFile], list[str]]:
        from botocore.exceptions import BotoCoreError, ClientError

        files = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if not key.endswith("/"):  # "folder/" markers hold no data
                        rel = key[len(self.prefix) :]
                        files.append(SourceFile(path=rel, location=key, size=item["Size"]))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Cannot list {self.label}: {exc}") from exc
        return files, []

    def open(self, file: SourceFile) -> IO[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=file.location)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise OSError(str(exc)) from exc
        return _S3Body(body)  # type: ignore[return-value]


def ingest_origin(origin: str, *, workers: int = 4) -> Origin:
    """The local folder or S3 prefix an ingest reads from."""
    if origin.startswith("s3://"):
        return S3Prefix(origin, connections=workers)
    return LocalFolder(origin)
