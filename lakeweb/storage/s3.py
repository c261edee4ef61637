"""One bucket per layer on S3 or any S3-compatible store, through django-storages and boto3."""

from __future__ import annotations

import base64
import datetime
import hashlib
import zlib
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import Storage

from .base import HashingReader, LayerStore, PartWriter, StorageError, StoredObject

# A single CopyObject handles up to 5 GiB; larger objects need a multipart copy,
# whose checksum S3 reports per part, so those are verified by reading back.
S3_SINGLE_COPY_LIMIT = 5 * 1024**3
S3_ERRORS = (BotoCoreError, ClientError)


class S3LayerStore(LayerStore):
    """One bucket per layer on S3 or any S3-compatible store (MinIO)."""

    def __init__(self, layer: str, bucket: str) -> None:
        self.bucket = bucket
        super().__init__(layer, self._storage(settings.S3_ENDPOINT_URL))
        # Browsers may reach the store at another address than the servers
        # do (compose: "minio:9000" inside, a public name outside).
        public = settings.S3_PUBLIC_ENDPOINT_URL
        self.public_storage = self._storage(public) if public else self.storage

    def _storage(self, endpoint_url: str | None) -> Storage:
        from storages.backends.s3 import S3Storage

        # Every request with a body carries a checksum header that is signed
        # (ours, or botocore's CRC32 by default) and that S3 verifies, so the
        # body needs no second SHA-256 for the signature, even over plain HTTP.
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.S3_ADDRESSING_STYLE, "payload_signing_enabled": False},
            request_checksum_calculation="when_supported",
        )
        return S3Storage(
            bucket_name=self.bucket,
            endpoint_url=endpoint_url,
            region_name=settings.S3_REGION,
            access_key=settings.S3_ACCESS_KEY_ID,
            secret_key=settings.S3_SECRET_ACCESS_KEY,
            client_config=config,
            file_overwrite=True,
            querystring_expire=settings.S3_PRESIGNED_URL_SECONDS,
            default_acl=None,
        )

    @property
    def client(self) -> Any:
        return self.storage.connection.meta.client

    def save(self, key: str, stream: IO[bytes], *, content_type: str = "") -> StoredObject:
        reader = HashingReader(stream)
        extra = {"ContentType": content_type} if content_type else {}
        try:
            # A non-seekable reader makes s3transfer read it once, in order,
            # so the hash covers exactly the bytes sent.
            self.client.upload_fileobj(
                reader, self.bucket, key, ExtraArgs=extra, Config=self.storage.transfer_config
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not write {key} to {self.bucket}: {exc}") from exc
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def copy_to(self, key: str, target: LayerStore, target_key: str) -> str | None:
        if not isinstance(target, S3LayerStore):
            with self.open(key) as stream:
                return target.save(target_key, stream).sha256
        source = {"Bucket": self.bucket, "Key": key}
        try:
            size = self.client.head_object(**source)["ContentLength"]
            if size > S3_SINGLE_COPY_LIMIT:
                self.client.copy(source, target.bucket, target_key)
                return None
            # Server-side copy: no bytes through lakeweb; S3 computes the
            # SHA-256 of the new object and returns it.
            result = self.client.copy_object(
                CopySource=source, Bucket=target.bucket, Key=target_key, ChecksumAlgorithm="SHA256"
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"could not copy {key} to {target.bucket}: {exc}") from exc
        checksum = result.get("CopyObjectResult", {}).get("ChecksumSHA256")
        return base64.b64decode(checksum).hex() if checksum else None

    def download_url(self, key: str, *, filename: str) -> str | None:
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return self.public_storage.url(key, parameters={"ResponseContentDisposition": disposition})

    def open(self, key: str) -> IO[bytes]:
        """The object's body as it streams in: django-storages' S3File would
        download the whole object before the first read (a zip or preview of
        a 50 GB file must not hold it in memory)."""
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot read {key} in {self.layer}: {exc}") from exc

    def list_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

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
        if settings.S3_REGION != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
        if self.layer == "raw":
            args["ObjectLockEnabledForBucket"] = True
        self.client.create_bucket(**args)
        if self.layer == "raw":
            self.client.put_object_lock_configuration(
                Bucket=self.bucket,
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {
                        "DefaultRetention": {
                            "Mode": settings.RAW_RETENTION_MODE,
                            "Days": settings.RAW_RETENTION_DAYS,
                        }
                    },
                },
            )

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
            # Without a cold class, old backup snapshots age out; archived
            # datasets themselves are never expired.
            rule = {
                "ID": "lakeweb-archive-backups",
                "Filter": {"Prefix": "backups/"},
                "Status": "Enabled",
                "Expiration": {"Days": days},
            }
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket, LifecycleConfiguration={"Rules": [rule]}
        )

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} unreachable: {exc}") from exc

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "") -> StoredObject:
        """One PUT with the SHA-256 computed once, here; S3 checks it on arrival."""
        digest = hashlib.sha256(data).digest()
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                # Object Lock buckets require the algorithm header; the value is
                # given, so botocore does not hash the body again.
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(digest).decode(),
                **extra,
            )
        except S3_ERRORS as exc:
            raise StorageError(f"could not write {key} to {self.bucket}: {exc}") from exc
        return StoredObject(key=key, size=len(data), sha256=digest.hex())

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

    def part_upload_complete(self, key: str, upload_id: str, parts: list[dict[str, Any]]) -> None:
        listed = [
            {k: v for k, v in part.items() if v is not None}
            for part in sorted(parts, key=lambda p: p["PartNumber"])
        ]
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            )
        except S3_ERRORS as exc:
            raise StorageError(f"could not complete {key} in {self.bucket}: {exc}") from exc

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
            self.body[at : at + len(piece)] = piece
        self.crc = zlib.crc32(piece, self.crc)

    def _finish(self) -> dict[str, Any]:
        try:
            result = self.store.client.upload_part(
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=self.number,
                Body=self.body if self.body is not None else b"",
                ChecksumAlgorithm="CRC32",
                # given, so botocore does not compute it again
                ChecksumCRC32=base64.b64encode(self.crc.to_bytes(4, "big")).decode(),
            )
        except S3_ERRORS as exc:
            raise StorageError(f"could not store part {self.number} of {self.key}: {exc}") from exc
        return {
            "PartNumber": self.number,
            "ETag": result["ETag"],
            "ChecksumCRC32": result.get("ChecksumCRC32"),
        }

    def close(self) -> None:
        self.body = None
