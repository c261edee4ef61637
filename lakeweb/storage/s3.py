"""One bucket per layer on S3 or any S3-compatible store, through django-storages and boto3."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, cast
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from .base import (
    Copied,
    HashingReader,
    LayerStore,
    ListedObject,
    ObjectConflict,
    ObjectMissing,
    PartUploadGone,
    PartWriter,
    StorageError,
    StoredObject,
    stream_sha256,
    unknown_object,
)
from .s3client import S3Endpoint, endpoint_client, lake_endpoint, s3_config

if TYPE_CHECKING:
    from storages.backends.s3 import S3Storage

# A single CopyObject handles up to 5 GiB; larger objects need a multipart copy,
# whose checksum S3 reports per part, so those are verified by reading back.
S3_SINGLE_COPY_LIMIT = 5 * 1024**3
S3_ERRORS = (BotoCoreError, ClientError)
# An object up to this size is read into memory and sent in one PUT that carries its
# SHA-256: S3 checks it on arrival and answers with the version id. A part upload
# costs more requests (start, parts, complete) and a HEAD after it for the version,
# which for the many small and middling files of a pipeline's output or an ingest
# took longer than sending their bytes. Bigger objects stream in parts, in bounded memory.
SINGLE_PUT_LIMIT = 32 * 1024 * 1024
# A conditional write that raced another write of the same key answers 409
# ConditionalRequestConflict; it is sent again, then finds the object (412).
CONDITIONAL_ATTEMPTS = 3
# What S3 answers for a key or version that is not there (a GET of a version
# whose key was deleted with it gives NoSuchVersion; moto, 404 without a body).
MISSING_CODES = {"NoSuchKey", "NoSuchVersion", "404"}


class S3LayerStore(LayerStore):
    """One bucket per layer on S3 or any S3-compatible store (MinIO)."""

    storage: S3Storage
    public_storage: S3Storage
    # S3's limit on a key; it has none on the parts between slashes.
    max_key_bytes = 1024
    kind = "S3"

    def __init__(self, layer: str, bucket: str, *, endpoint: S3Endpoint | None = None) -> None:
        self.bucket = bucket
        # The layers share the lake's endpoint; the backup store may have its own.
        self.endpoint = endpoint or lake_endpoint()
        super().__init__(layer, self._storage(self.endpoint.url))
        # Browsers may reach the store at another address than the servers
        # do (compose: "minio:9000" inside, a public name outside).
        public = settings.S3_PUBLIC_ENDPOINT_URL if endpoint is None else None
        self.public_storage = self._storage(public) if public else self.storage

    def _storage(self, endpoint_url: str | None) -> S3Storage:
        from storages.backends.s3 import S3Storage

        return S3Storage(
            bucket_name=self.bucket,
            endpoint_url=endpoint_url,
            region_name=self.endpoint.region,
            access_key=self.endpoint.access_key,
            secret_key=self.endpoint.secret_key,
            client_config=s3_config(),
            file_overwrite=True,
            querystring_expire=settings.S3_PRESIGNED_URL_SECONDS,
            default_acl=None,
        )

    @cached_property
    def client(self) -> Any:
        # One client for every thread and every layer on the endpoint (botocore
        # clients are thread-safe): making one costs a quarter of a second of CPU,
        # which django-storages' client per thread made a promotion's copying
        # threads pay each, and a fresh worker paid again for each layer it touched.
        return endpoint_client(self.endpoint)

    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        """One PUT for an object up to SINGLE_PUT_LIMIT, else a part upload; hashed once."""
        head = _read_up_to(stream, SINGLE_PUT_LIMIT + 1)
        if len(head) <= SINGLE_PUT_LIMIT:
            return self.put_bytes(key, head, content_type=content_type)
        reader = HashingReader(cast(IO[bytes], _Prefixed(head, stream)))
        del head  # only the reader holds it now, and lets it go once it is sent
        extra = {"ContentType": content_type} if content_type else {}
        try:
            # A non-seekable reader makes s3transfer read it once, in order,
            # so the hash covers exactly the bytes sent.
            self.client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs=extra, Config=self.storage.transfer_config
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not write {key} to {self.bucket}: {exc}") from exc
        # s3transfer does not return S3's answer, so the version is asked for
        # at once (a write over the key in between is a fixity failure later).
        version = self.current_version(key)
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256, version_id=version)

    def current_version(self, key: str) -> str | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in MISSING_CODES:
                raise ObjectMissing(f"{key} is not in {self.bucket}") from exc
            raise StorageError(f"cannot read {key} in {self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {key} in {self.bucket}: {exc}") from exc
        return _version(head)

    def copy_to(
        self,
        key: str,
        target: LayerStore,
        target_key: str,
        *,
        size: int | None = None,
        version_id: str | None = None,
    ) -> Copied:
        if not isinstance(target, S3LayerStore) or target.endpoint != self.endpoint:
            # Another endpoint (or other credentials) cannot copy server-side: stream and hash.
            with self.open(key, version_id=version_id) as stream:
                stored = target.save(target_key, stream)
            return Copied(sha256=stored.sha256, version_id=stored.version_id)
        source = {"Bucket": self.bucket, "Key": key, **_version_arg(version_id)}
        try:
            if size is None:
                size = self.client.head_object(**source)["ContentLength"]
            if size > S3_SINGLE_COPY_LIMIT:
                self.client.copy(source, target.bucket, target_key)
                return Copied(sha256=None, version_id=target.current_version(target_key))
            # Server-side copy: no bytes through lakeweb; S3 computes the
            # SHA-256 of the new object and returns it.
            result = self.client.copy_object(
                CopySource=source, Bucket=target.bucket, Key=target_key, ChecksumAlgorithm="SHA256"
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not copy {key} to {target.bucket}: {exc}") from exc
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        return Copied(
            sha256=base64.b64decode(checksum).hex() if checksum else None,
            version_id=_version(result),
        )

    def download_url(self, key: str, *, filename: str, version_id: str | None = None) -> str | None:
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        parameters = {"ResponseContentDisposition": disposition, **_version_arg(version_id)}
        return self.public_storage.url(key, parameters=parameters)

    def open(self, key: str, *, version_id: str | None = None) -> IO[bytes]:
        """The object's body as it streams in: django-storages' S3File would
        download the whole object before the first read (a zip or preview of
        a 50 GB file must not hold it in memory)."""
        try:
            args = {"Bucket": self.bucket, "Key": key, **_version_arg(version_id)}
            return self.client.get_object(**args)["Body"]
        except ClientError as exc:
            if _error_code(exc) in MISSING_CODES:
                raise ObjectMissing(f"{key} is not in {self.bucket}") from exc
            raise StorageError(f"cannot read {key} in {self.layer}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot read {key} in {self.layer}: {exc}") from exc

    def sealed_sha256(self, key: str, *, version_id: str | None) -> tuple[int, str, str | None]:
        """One GET where the sealed version is still the current one (the usual case): its
        answer names the version it read. Otherwise the sealed version is read apart."""
        if version_id:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=key)
            except S3_ERRORS:
                answer = None  # no current version, or a failure: the general way says which
            if answer is not None:
                with contextlib.closing(answer["Body"]) as body:
                    if _version(answer) == version_id:
                        size, digest = stream_sha256(body)
                        return size, digest, version_id
        return super().sealed_sha256(key, version_id=version_id)

    def exists(self, key: str) -> bool:
        """A HEAD on the shared client: django-storages' exists() makes a boto3 resource
        per thread, a quarter of a second of CPU each (a snapshot asks once per blob)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise StorageError(f"cannot look for {key} in {self.bucket}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot look for {key} in {self.bucket}: {exc}") from exc
        return True

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def list_objects(self, prefix: str = "") -> Iterator[ListedObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield ListedObject(item["Key"], item["Size"], item["LastModified"])
        except S3_ERRORS as exc:
            raise StorageError(f"cannot list {self.bucket}: {exc}") from exc

    def ensure(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            exists = True
        except ClientError:
            exists = False
        if not exists:
            self._create_bucket()
        if self.layer == "archive":
            self._put_archive_lifecycle()

    def _create_bucket(self) -> None:
        args: dict[str, Any] = {"Bucket": self.bucket}
        if self.endpoint.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.endpoint.region}
        retention = self._lock_retention()
        if retention is not None:
            args["ObjectLockEnabledForBucket"] = True
        self.client.create_bucket(**args)
        if retention is not None:
            self.client.put_object_lock_configuration(
                Bucket=self.bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": retention},
                },
            )

    def _lock_retention(self) -> dict[str, Any] | None:
        """Raw is write-once; the backup store is locked for the longest retention kept."""
        if self.layer == "raw":
            return {"Mode": settings.RAW_RETENTION_MODE, "Days": settings.RAW_RETENTION_DAYS}
        if self.layer == "backups" and settings.BACKUP_LOCK_DAYS > 0:
            return {"Mode": "GOVERNANCE", "Days": settings.BACKUP_LOCK_DAYS}
        return None

    def _put_archive_lifecycle(self) -> None:
        days = settings.ARCHIVE_LIFECYCLE_DAYS
        if settings.ARCHIVE_STORAGE_CLASS:
            rule = {
                "ID": "lakeweb-archive-cold",
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "Transitions": [{"Days": days, "StorageClass": settings.ARCHIVE_STORAGE_CLASS}],
            }
        else:
            # Snapshots live in the backup store now, whose retention lakeweb
            # decides (backups.services.retention): no rule expires anything
            # here, and the old one that expired ``backups/`` by age goes.
            self.client.delete_bucket_lifecycle(Bucket=self.bucket)
            return
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [rule]}
        )

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} unreachable: {exc}") from exc

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = "", exclusive: bool = False
    ) -> StoredObject:
        """One PUT with the SHA-256 computed once, here; S3 checks it on arrival."""
        digest = hashlib.sha256(data).digest()
        expected = StoredObject(key=key, size=len(data), sha256=digest.hex())
        args: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        args.update(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            # Object Lock buckets require the algorithm header; the value is
            # given, so botocore does not hash the body again.
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=base64.b64encode(digest).decode(),
        )
        try:
            if exclusive:
                return self._write_once(self.client.put_object, args, expected)[1]
            written = self.client.put_object(**args)
        except S3_ERRORS as exc:
            raise StorageError(f"could not write {key} to {self.bucket}: {exc}") from exc
        return replace(expected, version_id=_version(written))

    def _write_once(
        self,
        write: Callable[..., Any],
        args: dict[str, Any],
        expected: StoredObject,
        parts: list[dict[str, Any]] | None = None,
    ) -> tuple[bool, StoredObject]:
        """Write unless the key holds an object; True if written, False if found (and checked).

        The object comes back with the version id S3 gave it (or the found one's).

        Raw is Object-Locked: every write of a key that exists adds a version
        nobody can delete before its retention ends. A retried request (a
        killed worker, a database blip after the write) must not add one, so
        the write is conditional (If-None-Match: *) and S3 refuses it
        atomically (412) when the key exists; the object found is then checked
        against the bytes sent. This beats staging in an unlocked bucket and
        copying into raw once complete: no second pass over every byte, and
        that copy would need the same guard. A HEAD before writing would
        race; here it only checks what the refused write found.
        """
        for _attempt in range(CONDITIONAL_ATTEMPTS):
            try:
                written = write(**args, IfNoneMatch="*")
                return True, replace(expected, version_id=_version(written))
            except ClientError as exc:
                code = _error_code(exc)
                if code == "ConditionalRequestConflict":
                    continue  # a concurrent write of the key; once it lands, 412
                if code == "NotImplemented":
                    return self._write_checked(write, args, expected, parts)
                if code not in ("PreconditionFailed", "NoSuchUpload"):
                    raise
            # Refused because an earlier request wrote (or completed) it.
            return False, self.verify_existing(expected, parts=parts)
        raise StorageError(f"{expected.key}: concurrent writes kept conflicting")

    def _write_checked(
        self,
        write: Callable[..., Any],
        args: dict[str, Any],
        expected: StoredObject,
        parts: list[dict[str, Any]] | None,
    ) -> tuple[bool, StoredObject]:
        """For stores without conditional writes: check, then write.

        Two concurrent requests for one key could both pass the check and
        both write; a retry after a failure, the case this guards, cannot.
        """
        if self.exists(expected.key):
            return False, self.verify_existing(expected, parts=parts)
        written = write(**args)
        return True, replace(expected, version_id=_version(written))

    def verify_existing(
        self, expected: StoredObject, *, parts: list[dict[str, Any]] | None = None
    ) -> StoredObject:
        """Compare size and S3's own checksum; read back and hash only when S3 has none to give."""
        try:
            head = self.client.head_object(
                Bucket=self.bucket, Key=expected.key, ChecksumMode="ENABLED"
            )
        except ClientError as exc:
            raise StorageError(f"{expected.key} is not readable in {self.bucket}: {exc}") from exc
        if head["ContentLength"] != expected.size:
            raise ObjectConflict(expected.key, self.layer)
        found = replace(expected, version_id=_version(head))
        same = _checksum_matches(head, expected, parts)
        if same is None:
            super().verify_existing(found)
        elif not same:
            raise ObjectConflict(expected.key, self.layer)
        return found

    def part_upload_begin(self, key: str, *, content_type: str = "") -> str:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            # Each part carries a CRC32 that S3 checks on arrival (an Object
            # Lock bucket requires a checksum on every part). CRC32 costs a
            # third of a SHA-256; the file's SHA-256 is lakeweb's own.
            result = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32", **extra
            )
        except S3_ERRORS as exc:
            raise StorageError(f"could not start {key} in {self.bucket}: {exc}") from exc
        return result["UploadId"]

    def part_writer(
        self, key: str, upload_id: str, *, number: int, offset: int, length: int
    ) -> PartWriter:
        return _MultipartPartWriter(self, key, upload_id, number, length)

    def part_upload_complete(
        self,
        key: str,
        upload_id: str,
        parts: list[dict[str, Any]],
        *,
        expected: StoredObject | None = None,
    ) -> str | None:
        listed = [
            {k: v for k, v in part.items() if v is not None}
            for part in sorted(parts, key=lambda p: p["PartNumber"])
        ]
        args = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": listed},
        }
        try:
            # NoSuchUpload: an earlier request completed it and then failed.
            written, stored = self._write_once(
                self.client.complete_multipart_upload, args, expected or unknown_object(key), parts
            )
        except S3_ERRORS as exc:
            raise StorageError(f"could not complete {key} in {self.bucket}: {exc}") from exc
        if not written:  # the key was taken: its parts would linger until aborted
            self.part_upload_abort(key, upload_id)
        return stored.version_id

    def part_upload_abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise StorageError(f"could not abort {key}: {exc}") from exc

    def part_uploads_stale(self, *, before: datetime.datetime) -> list[tuple[str, str]]:
        stale = []
        paginator = self.client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket):
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < before:
                    stale.append((upload["Key"], upload["UploadId"]))
        return stale


class _MultipartPartWriter(PartWriter):
    """Gathers a part in memory (one chunk at most) and sends it as one UploadPart.

    S3 needs the part's length and checksum before its body, so the part is
    sent whole; its CRC32 is computed as the pieces arrive.
    """

    def __init__(self, store: S3LayerStore, key: str, upload_id: str, number: int, length: int):
        super().__init__(length)
        self.store, self.key, self.upload_id, self.number = store, key, upload_id, number
        self.body: bytes | bytearray | None = None
        self.crc = 0

    def _write(self, piece: bytes, at: int) -> None:
        if at == 0 and len(piece) == self.length:
            self.body = piece  # the whole part in one piece: no copy
        else:
            if self.body is None:
                self.body = bytearray(self.length)
            # A part that came whole (bytes) takes no further piece.
            cast(bytearray, self.body)[at : at + len(piece)] = piece
        self.crc = zlib.crc32(piece, self.crc)

    def _finish(self) -> dict[str, Any]:
        crc = base64.b64encode(self.crc.to_bytes(4, "big")).decode()
        try:
            result = self.store.client.upload_part(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=self.number,
                Body=self.body if self.body is not None else b"",
                ChecksumAlgorithm="CRC32",
                ChecksumCRC32=crc,  # given, so botocore does not compute it again
            )
        except S3_ERRORS as exc:
            self._gone_if_completed(exc, crc)
            raise StorageError(f"could not store part {self.number} of {self.key}: {exc}") from exc
        return {
            "PartNumber": self.number,
            "ETag": result["ETag"],
            "ChecksumCRC32": result.get("ChecksumCRC32"),
        }

    def _gone_if_completed(self, exc: Exception, crc: str) -> None:
        """Raise PartUploadGone when an earlier request completed the object.

        S3 answers NoSuchUpload and moto an internal error, so what decides
        is whether the object exists, asked only once the part was refused.
        """
        if isinstance(exc, ClientError) and self.store.exists(self.key):
            raise PartUploadGone(
                f"upload {self.upload_id} is gone: an earlier request completed {self.key}",
                part={"PartNumber": self.number, "ChecksumCRC32": crc},
            ) from exc

    def close(self) -> None:
        self.body = None


def _read_up_to(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the stream (a socket gives less per read)."""
    pieces, wanted = [], size
    while wanted > 0:
        piece = stream.read(wanted)
        if not piece:
            break
        pieces.append(piece)
        wanted -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


class _Prefixed:
    """A read-only stream: bytes already read from ``stream``, then the rest of it.

    Each read gives all it is asked for until the end: s3transfer takes what one
    read gives as a part, and a part short of 5 MiB that is not the last is refused.
    """

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head: memoryview | None = memoryview(head)
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return self.read(len(self._head or b"")) + self._stream.read()
        piece = b""
        if self._head is not None:
            piece = bytes(self._head[:size])
            self._head = self._head[size:] if len(self._head) > size else None
        return piece + _read_up_to(self._stream, size - len(piece)) if len(piece) < size else piece


def _version(answer: dict[str, Any]) -> str | None:
    """The version id in S3's answer; None when the bucket keeps no versions ("null")."""
    version = answer.get("VersionId")
    return version if version and version != "null" else None


def _version_arg(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _error_code(exc: ClientError) -> str:
    if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 412:
        return "PreconditionFailed"
    return exc.response.get("Error", {}).get("Code", "")


def _checksum_matches(
    head: dict[str, Any], expected: StoredObject, parts: list[dict[str, Any]] | None
) -> bool | None:
    """Whether S3's checksum of the object is the expected one; None if it cannot tell.

    A single PUT keeps the object's SHA-256. A part upload keeps a composite
    CRC32: the CRC32 of the parts' CRC32s, "-<parts>" appended (the parts'
    checksums are of the very bytes lakeweb hashed). Anything else, or a
    composite that differs without S3 saying it is one, is read back instead.
    """
    sha256 = head.get("ChecksumSHA256")
    if sha256 and "-" not in sha256:
        return base64.b64decode(sha256).hex() == expected.sha256
    crc32, composite = head.get("ChecksumCRC32"), _composite_crc32(parts or [])
    if not crc32 or composite is None or head.get("ChecksumType") == "FULL_OBJECT":
        return None
    value, _, count = crc32.partition("-")
    if value == composite and count in ("", str(len(parts or []))):
        return True
    return False if count or head.get("ChecksumType") == "COMPOSITE" else None


def _composite_crc32(parts: list[dict[str, Any]]) -> str | None:
    crcs: list[Any] = [
        part.get("ChecksumCRC32") for part in sorted(parts, key=lambda p: p["PartNumber"])
    ]
    if not crcs or None in crcs:
        return None
    joined = b"".join(base64.b64decode(crc) for crc in crcs)
    return base64.b64encode(zlib.crc32(joined).to_bytes(4, "big")).decode()
