"""The layer stores against a real S3 endpoint over HTTP, and the filesystem."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest

from conftest import S3_SERVER, read_object
from lakeweb.storage import StorageError, layer_store


def _write_part(store, key: str, upload_id: str, *, number: int, offset: int, data: bytes):
    with store.part_writer(key, upload_id, number=number, offset=offset, length=len(data)) as part:
        part.write(data)
        return part.finish()


def test_raw_bucket_has_object_lock_with_default_retention(s3_operator, settings) -> None:
    config = s3_operator.get_object_lock_configuration(Bucket=settings.S3_BUCKETS["raw"])
    retention = config["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    assert config["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 90)


def test_archive_bucket_has_no_rule_that_expires_anything(s3_lake, settings) -> None:
    """Snapshots live in the backup store, whose retention lakeweb decides (issue 12)."""
    from botocore.exceptions import ClientError

    client = layer_store("archive").client
    with pytest.raises(ClientError, match="NoSuchLifecycleConfiguration"):
        client.get_bucket_lifecycle_configuration(Bucket=settings.S3_BUCKETS["archive"])


def test_ensure_is_idempotent(s3_lake) -> None:
    from lakeweb.storage import layers_ensure

    assert layers_ensure() == layers_ensure()


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_save_hashes_what_it_stores_and_copy_verifies(request, backend: str) -> None:
    if backend == "s3":
        request.getfixturevalue("s3_lake")
    data = bytes(range(256)) * 160_000  # ~40 MB: past one PUT, several parts on S3
    raw, processed = layer_store("raw"), layer_store("processed")
    raw.ensure()
    processed.ensure()

    stored = raw.save("d/x.bin", io.BytesIO(data))
    copied = raw.copy_to("d/x.bin", processed, "e/x.bin")

    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    # moto's CopyObject answers with the copy's SHA-256; SeaweedFS's does not
    # (None: copy_verified then reads the copy back and hashes it).
    told = None if backend == "s3" and S3_SERVER == "seaweedfs" else stored.sha256
    assert copied.sha256 == told
    assert processed.sha256("e/x.bin") == (len(data), stored.sha256)
    assert list(processed.list_keys("e/")) == ["e/x.bin"]


class _Trickle:
    """A stream that gives at most 64 KiB a read, as a socket does."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(min(size, 65536) if size >= 0 else size)


@pytest.mark.parametrize("over", [-1, 0, 1, 9 * 1024 * 1024], ids=["below", "at", "over", "parts"])
def test_s3_save_sends_a_small_object_in_one_checked_put_and_streams_a_big_one(
    s3_lake, monkeypatch, over: int
) -> None:
    from lakeweb.storage import s3

    limit = 1024 * 1024
    monkeypatch.setattr(s3, "SINGLE_PUT_LIMIT", limit)
    data = os.urandom(limit + over)
    raw = layer_store("raw")  # Object-Locked, so versioned
    raw.ensure()
    sent: list[str] = []

    def record(model, **kwargs) -> None:
        sent.append(model.name)

    raw.client.meta.events.register("before-call.s3", record)
    try:
        stored = raw.save("d/x.bin", _Trickle(data), content_type="text/csv")
    finally:
        raw.client.meta.events.unregister("before-call.s3", record)

    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert read_object("raw", "d/x.bin") == data
    assert stored.version_id is not None and stored.version_id == raw.current_version("d/x.bin")
    head = raw.client.head_object(Bucket=raw.bucket, Key="d/x.bin", ChecksumMode="ENABLED")
    assert head["ContentType"] == "text/csv"
    if over <= 0:  # one PUT carrying the SHA-256, which S3 checked; its answer named the version
        assert sent == ["PutObject"]
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    else:  # streamed by s3transfer (in parts past its threshold), then the version asked for
        parts = ["CreateMultipartUpload", "UploadPart", "UploadPart", "CompleteMultipartUpload"]
        assert sent == [*(parts if over > limit else ["PutObject"]), "HeadObject"]


def test_missing_object_is_a_storage_error(s3_lake) -> None:
    with pytest.raises(StorageError):
        layer_store("raw").copy_to("nope", layer_store("processed"), "nope")


def test_filesystem_parts_are_on_disk_before_they_count(filesystem_lake, monkeypatch) -> None:
    """A part is flushed before its writer finishes: the upload then records it
    as received and hashes past it, so a crash must not lose it from the staging file."""
    store = layer_store("raw")
    store.ensure()
    upload_id = store.part_upload_begin("d/big.bin", content_type="application/octet-stream")
    flushed = []
    real_fdatasync = os.fdatasync

    def fdatasync(fd: int) -> None:
        flushed.append(os.fstat(fd).st_size)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    first = _write_part(store, "d/big.bin", upload_id, number=1, offset=0, data=b"a" * 10)
    second = _write_part(store, "d/big.bin", upload_id, number=2, offset=10, data=b"b" * 5)
    assert flushed == [10, 15]  # each part flushed, after it was written
    store.part_upload_complete("d/big.bin", upload_id, [first, second])
    assert read_object("raw", "d/big.bin") == b"a" * 10 + b"b" * 5


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_a_part_written_in_pieces_is_the_bytes_given(request, backend: str) -> None:
    """Uploads write a part as its bytes arrive; the object is the pieces in order."""
    if backend == "s3":
        request.getfixturevalue("s3_lake")
    store = layer_store("raw")
    store.ensure()
    first, second = os.urandom(5 * 1024 * 1024), b"tail of the file"
    upload_id = store.part_upload_begin("d/pieces.bin")
    with store.part_writer(
        "d/pieces.bin", upload_id, number=1, offset=0, length=len(first)
    ) as writer:
        for start in range(0, len(first), 1_000_000):  # pieces that do not divide the part
            writer.write(first[start : start + 1_000_000])
        one = writer.finish()
    two = _write_part(store, "d/pieces.bin", upload_id, number=2, offset=len(first), data=second)
    store.part_upload_complete("d/pieces.bin", upload_id, [one, two])
    assert read_object("raw", "d/pieces.bin") == first + second


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_a_part_of_the_wrong_length_is_refused(request, backend: str) -> None:
    if backend == "s3":
        request.getfixturevalue("s3_lake")
    store = layer_store("raw")
    store.ensure()
    upload_id = store.part_upload_begin("d/short.bin")
    with store.part_writer("d/short.bin", upload_id, number=1, offset=0, length=10) as writer:
        writer.write(b"12345")
        with pytest.raises(StorageError, match="given 5"):
            writer.finish()
        with pytest.raises(StorageError, match="given more"):
            writer.write(b"123456")
    store.part_upload_abort("d/short.bin", upload_id)
    assert list(store.list_keys("d/")) == []


def test_a_part_that_cannot_be_written_is_a_storage_error(filesystem_lake) -> None:
    store = layer_store("raw")
    store.ensure()
    with pytest.raises(StorageError, match="is gone"):
        _write_part(store, "d/x.bin", "nosuchupload", number=1, offset=0, data=b"x")


def test_the_filesystem_store_holds_exactly_the_names_it_says(filesystem_lake) -> None:
    store = layer_store("raw")
    longest = "n" * store.max_file_name_bytes
    assert store.put_bytes(f"d/{longest}", b"x").size == 1
    assert store.save(f"d/{longest}", io.BytesIO(b"y")).size == 1
    with pytest.raises(StorageError, match="File name too long"):
        store.put_bytes(f"d/{longest}n", b"x")
    # In a batch too, whatever the file's place in it.
    batch = [(f"b/{i}.txt", b"x", "") for i in range(300)] + [(f"b/{longest}", b"z", "")]
    assert len(store.put_many(batch)) == 301
    assert f"b/{longest}" in set(store.list_keys("b/"))
    assert list(store.list_keys("d/")) == [f"d/{longest}"]


def test_s3_says_its_key_limit(s3_lake) -> None:
    store = layer_store("raw")
    assert (store.kind, store.max_key_bytes) == ("S3", 1024)


def test_a_key_with_an_empty_part_is_kept_by_moto_and_folded_by_seaweedfs(s3_lake) -> None:
    """SeaweedFS stores keys as paths: ``d//x.txt`` becomes ``d/x.txt``; moto keeps it.

    lakeweb never makes such a key (catalog.services.paths refuses a path with
    an empty part), so nothing it stores depends on which answer a store gives.
    """
    store = layer_store("processed")
    store.put_bytes("d//x.txt", b"1")
    expected = ["d/x.txt"] if S3_SERVER == "seaweedfs" else ["d//x.txt"]
    assert list(store.list_keys("d/")) == expected
