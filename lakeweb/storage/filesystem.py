"""The embedded default: one folder per layer."""

from __future__ import annotations

import contextlib
import datetime
import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from django.core.files.storage import FileSystemStorage

from .base import (
    CHUNK_SIZE,
    Copied,
    HashingReader,
    LayerStore,
    ListedObject,
    ObjectConflict,
    PartUploadGone,
    PartWriter,
    StorageError,
    StoredObject,
    unknown_object,
)

# Unfinished part uploads live here, inside the layer folder (same disk, so
# completing one is a rename) but outside every dataset prefix.
STAGING = ".uploads"
# What os.link raises on a filesystem without hard links (FAT, some network shares).
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}
# POSIX's NAME_MAX and PATH_MAX on Linux, when the folder cannot be asked.
NAME_MAX = 255
PATH_MAX = 4096


def partial_path(path: Path) -> Path:
    """The hidden file a write goes to beside ``path``, renamed to it once complete."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")


# How many bytes the partial file's name adds to the file's own.
PARTIAL_AFFIX_BYTES = len(partial_path(Path("x")).name) - 1


class FilesystemLayerStore(LayerStore):
    """The embedded default: one folder per layer."""

    # A chunk goes to disk a piece at a time as it arrives and is never held,
    # so it can be larger: fewer requests, each with its fixed cost
    # (bench/upload.py: about 30% faster than 8 MiB for big files).
    upload_chunk_size = 32 * 1024 * 1024

    kind = "filesystem"

    def __init__(self, layer: str, root: Path, *, folder: Path | None = None) -> None:
        # ``folder``: a store kept outside the layers' root (the backup store).
        self.root = folder if folder is not None else root / layer
        super().__init__(layer, FileSystemStorage(location=self.root))

    def _limit(self, name: str, default: int) -> int:
        """A pathconf limit of the folder (or of its nearest existing parent)."""
        for folder in (self.root, *self.root.parents):
            try:
                return os.pathconf(folder, name)
            except FileNotFoundError:
                continue
            except (OSError, ValueError):  # unreadable, or a limit the system lacks
                break
        return default

    @property
    def max_folder_name_bytes(self) -> int:  # type: ignore[override]
        return self._limit("PC_NAME_MAX", NAME_MAX)

    @property
    def max_file_name_bytes(self) -> int:  # type: ignore[override]
        # A file is written under a longer, hidden name first (partial_path).
        return self.max_folder_name_bytes - PARTIAL_AFFIX_BYTES

    @property
    def max_key_bytes(self) -> int:  # type: ignore[override]
        # The partial file's whole path, with its NUL, must fit PATH_MAX.
        root = len(os.fsencode(self.root.resolve()))
        return self._limit("PC_PATH_MAX", PATH_MAX) - root - 1 - PARTIAL_AFFIX_BYTES - 1

    def _path(self, key: str) -> Path:
        return Path(self.storage.path(key))

    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename, so a reader never sees half a file.
        partial = partial_path(path)
        reader = HashingReader(stream)
        try:
            with open(partial, "wb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StorageError(f"could not write {key} in {self.layer}: {exc}") from exc
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = "", exclusive: bool = False
    ) -> StoredObject:
        return self.put_many([(key, data, content_type)], exclusive=exclusive)[0]

    def put_many(
        self, objects: list[tuple[str, bytes, str]], *, exclusive: bool = False
    ) -> list[StoredObject]:
        """Write every file, then flush them all, then rename: one wait on the disk, not N.

        Paths are plain strings here, and one token names the batch's
        partial files: a batch is many small files, and building Path and
        UUID objects for each cost as much as writing it.
        """
        stored = [
            StoredObject(key=key, size=len(data), sha256=hashlib.sha256(data).hexdigest())
            for key, data, _kind in objects
        ]
        token = uuid.uuid4().hex
        pending: list[tuple[str, str, Any]] = []
        folders: set[str] = set()
        try:
            for n, (key, data, _kind) in enumerate(objects):
                path = self.storage.path(key)  # refuses a key outside the layer's folder
                folder, name = os.path.split(path)
                if folder not in folders:  # a batch's files share a few folders
                    os.makedirs(folder, exist_ok=True)
                    folders.add(folder)
                # The batch's token and the file's index, as long as partial_path's
                # token: the name limit (PARTIAL_AFFIX_BYTES) holds for both.
                partial = os.path.join(folder, f".{name}.{token[:26]}{n:06x}.partial")
                handle = open(partial, "wb")  # noqa: SIM115 - closed below, after the flush
                pending.append((partial, path, handle))
                handle.write(data)
            for _partial, _path, handle in pending:
                handle.flush()
                # The data and the size, not the times: what reading it back needs.
                os.fdatasync(handle.fileno())
                handle.close()
            for (partial, path, _handle), object_ in zip(pending, stored, strict=True):
                self._place(partial, path, object_, exclusive=exclusive)
        except OSError as exc:
            raise StorageError(f"could not write a batch in {self.layer}: {exc}") from exc
        finally:
            for partial, _path, handle in pending:
                handle.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(partial)
        return stored

    def _place(
        self, written: str | Path, path: str | Path, expected: StoredObject, *, exclusive: bool
    ) -> None:
        """Move a written file to its key; ``exclusive``: never over a file already there."""
        if not exclusive:
            os.replace(written, path)
            return
        try:
            # A hard link fails when the name exists, where a rename would
            # replace it: the filesystem's atomic create-if-absent, as S3's
            # If-None-Match is. A file already there is an earlier request's.
            os.link(written, path)
        except FileExistsError:
            self.verify_existing(expected)
        except OSError as exc:
            if exc.errno not in NO_HARD_LINKS:
                raise
            # A filesystem without hard links: check, then rename. Two
            # concurrent requests for one key could both pass the check; a
            # retry after a failure, the case this guards, cannot.
            if os.path.exists(path):
                self.verify_existing(expected)
            else:
                os.replace(written, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(written)

    def verify_existing(
        self, expected: StoredObject, *, parts: list[dict[str, Any]] | None = None
    ) -> StoredObject:
        try:
            size = self._path(expected.key).stat().st_size
        except FileNotFoundError:
            raise StorageError(f"{expected.key} is not in {self.layer}") from None
        if size != expected.size:  # cheap: no need to read it
            raise ObjectConflict(expected.key, self.layer)
        return super().verify_existing(expected)

    def copy_to(
        self,
        key: str,
        target: LayerStore,
        target_key: str,
        *,
        size: int | None = None,
        version_id: str | None = None,
    ) -> Copied:
        with self.open(key) as stream:
            stored = target.save(target_key, stream)
        return Copied(sha256=stored.sha256, version_id=stored.version_id)

    def download_url(self, key: str, *, filename: str, version_id: str | None = None) -> str | None:
        return None

    def list_keys(self, prefix: str) -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for path in sorted(base.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if (
                path.is_file()
                and not path.name.endswith(".partial")
                and not key.startswith(STAGING)
            ):
                yield key

    def list_objects(self, prefix: str = "") -> Iterator[ListedObject]:
        # Sorted by the key's bytes, as S3 lists: a folder's sort is by path parts.
        for key in sorted(self.list_keys(prefix), key=lambda k: k.encode()):
            try:
                info = self._path(key).stat()
            except FileNotFoundError:
                continue  # removed while listed
            modified = datetime.datetime.fromtimestamp(info.st_mtime, tz=datetime.UTC)
            yield ListedObject(key=key, size=info.st_size, modified=modified)

    def delete_prefix(self, prefix: str) -> int:
        from .cold import cold_root, thaw_root

        count = super().delete_prefix(prefix)
        shutil.rmtree(self._path(prefix), ignore_errors=True)
        if prefix:  # a dataset of the cold tier keeps its files in the cold folder
            shutil.rmtree(cold_root(self) / prefix, ignore_errors=True)
            shutil.rmtree(thaw_root(self) / prefix, ignore_errors=True)
        return count

    def open(self, key: str, *, version_id: str | None = None) -> IO[bytes]:
        """The file, or its cold copy once thawed (lakeweb.storage.cold)."""
        try:
            return super().open(key, version_id=version_id)
        except StorageError:
            from .cold import thawed_path

            thawed = thawed_path(self, key)
            if thawed is None:
                raise
            return open(thawed, "rb")

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root.name} folder is missing or not writable")

    def _staging(self, upload_id: str) -> Path:
        if not upload_id.isalnum():
            raise StorageError("malformed upload id")
        return self.root / STAGING / upload_id

    def part_upload_begin(self, key: str, *, content_type: str = "") -> str:
        upload_id = uuid.uuid4().hex
        staging = self._staging(upload_id)
        staging.parent.mkdir(parents=True, exist_ok=True)
        staging.touch()
        return upload_id

    def part_writer(
        self, key: str, upload_id: str, *, number: int, offset: int, length: int
    ) -> PartWriter:
        staging = self._staging(upload_id)
        if not staging.exists() and self._path(key).exists():
            return _CompletedPartWriter(key, upload_id, number, length)
        return _StagingPartWriter(staging, key, number, offset, length)

    def part_upload_complete(
        self,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        *,
        expected: StoredObject | None = None,
    ) -> str | None:
        staging, path = self._staging(upload_id), self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(staging, "rb+") as handle:
                os.fsync(handle.fileno())
        except FileNotFoundError:
            if expected is None or not path.exists():
                raise StorageError(f"upload {upload_id} of {key} is gone") from None
            self.verify_existing(expected)  # an earlier request put it in place
            return None
        except OSError as exc:
            raise StorageError(f"could not complete {key} in {self.layer}: {exc}") from exc
        try:
            self._place(staging, path, expected or unknown_object(key), exclusive=True)
        except OSError as exc:
            raise StorageError(f"could not complete {key} in {self.layer}: {exc}") from exc
        return None  # a folder keeps no versions

    def part_upload_abort(self, key: str, upload_id: str) -> None:
        self._staging(upload_id).unlink(missing_ok=True)

    def part_uploads_stale(self, *, before: datetime.datetime) -> list[tuple[str, str]]:
        staging = self.root / STAGING
        if not staging.exists():
            return []
        cutoff = before.timestamp()
        return [("", path.name) for path in staging.iterdir() if path.stat().st_mtime < cutoff]


class _CompletedPartWriter(PartWriter):
    """A part of an upload an earlier request completed: its bytes are taken, not stored.

    ``finish`` says so (:class:`PartUploadGone`); the upload then checks the
    file in place against the bytes it was sent.
    """

    def __init__(self, key: str, upload_id: str, number: int, length: int) -> None:
        super().__init__(length)
        self.key, self.upload_id, self.number = key, upload_id, number

    def _write(self, piece: bytes, at: int) -> None:
        pass

    def _finish(self) -> dict[str, Any]:
        raise PartUploadGone(
            f"upload {self.upload_id} is gone: an earlier request completed {self.key}",
            part={"PartNumber": self.number, "Size": self.length},
        )

    def close(self) -> None:
        pass


class _StagingPartWriter(PartWriter):
    """Writes a part in place at its offset in the staging file: no second copy on disk.

    ``finish`` flushes the part to disk: the upload then records it as
    received (and the hash past it), so a crash must not lose it.
    """

    def __init__(self, staging: Path, key: str, number: int, offset: int, length: int) -> None:
        super().__init__(length)
        self.key, self.number, self.offset = key, number, offset
        try:
            self.fd: int | None = os.open(staging, os.O_WRONLY)
        except FileNotFoundError as exc:
            raise StorageError(f"upload {staging.name} is gone") from exc

    def _write(self, piece: bytes, at: int) -> None:
        assert self.fd is not None
        view = memoryview(piece)
        try:
            while view:
                done = os.pwrite(self.fd, view, self.offset + at)
                view, at = view[done:], at + done
        except OSError as exc:
            raise StorageError(f"could not write part {self.number} of {self.key}: {exc}") from exc

    def _finish(self) -> dict[str, Any]:
        assert self.fd is not None
        try:
            os.fdatasync(self.fd)
        except OSError as exc:
            raise StorageError(f"could not write part {self.number} of {self.key}: {exc}") from exc
        return {"PartNumber": self.number, "Size": self.length}

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
