"""Retried upload requests store nothing twice: raw is write-once (S3 Object Lock).

A request may die after the store wrote a file but before the database
recorded it (a killed worker, a database blip); the client then sends it
again. These tests break the database step once, right after the storage
call, and send the same request again, through the real views, on both
stores (S3 over HTTP to a moto server in another process).
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from pathlib import Path

import pytest
from django.db import OperationalError

from catalog.models import DataFile, Dataset, DatasetStatus, UploadFile
from catalog.services import chunks
from conftest import read_object
from lakeweb.storage import StoredObject, layer_store
from lakeweb.storage.base import ObjectConflict
from lakeweb.storage.s3 import _checksum_matches

from .factories import microscopy_form
from .test_upload_protocol import _batch, _finish, _put, _start

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
BIG = os.urandom(11 * MIB + 123)  # parts of 5 MiB, 5 MiB and 1 MiB + 123
LAST = 10 * MIB


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.UPLOAD_CHUNK_SIZE = 5 * MIB  # S3's smallest part


@pytest.fixture
def form():
    return microscopy_form()


@pytest.fixture
def client(client):
    """A client that gets the 500 a browser would, rather than the exception."""
    client.raise_request_exception = False
    return client


@pytest.fixture
def fail_once(monkeypatch):
    """``fail_once(name)``: the database step ``chunks.<name>`` fails on its first call."""

    def arm(name: str) -> list[str]:
        real, failed = getattr(chunks, name), []

        def step(*args, **kwargs):
            if not failed:
                failed.append(name)
                raise OperationalError("server closed the connection unexpectedly")
            return real(*args, **kwargs)

        monkeypatch.setattr(chunks, name, step)
        return failed

    return arm


def _versions(key: str) -> int:
    """How many versions of ``key`` raw holds (a file on the filesystem is one)."""
    store = layer_store("raw")
    if hasattr(store, "bucket"):
        listed = store.client.list_object_versions(Bucket=store.bucket, Prefix=key)
        return sum(1 for version in listed.get("Versions", []) if version["Key"] == key)
    folder = Path(store.storage.path(key)).parent
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]
    return int(store.exists(key))


def _big_upload(client, form):
    status = _start(client, form, tree={"scan/big.raw": BIG}).json()
    entry = status["files"][0]
    for offset in (0, 5 * MIB):
        response = _put(
            client, status["upload"], entry["id"], offset, BIG[offset : offset + 5 * MIB]
        )
        assert response.status_code == 200, response.json()
    return status["upload"], entry["id"], UploadFile.objects.get(pk=entry["id"]).storage_key


def test_last_chunk_sent_again_after_a_crash_past_completion_finishes_the_file(
    lake, client_for, form, fail_once
) -> None:
    """The store completed the file, then the database step failed: the same
    last chunk again finds the object, checks it, and records it."""
    client = client_for("member")
    upload, file_id, key = _big_upload(client, form)
    failed = fail_once("datafile_record")

    crashed = _put(client, upload, file_id, LAST, BIG[LAST:])
    assert crashed.status_code == 500 and failed
    assert layer_store("raw").exists(key)  # complete in the store, not in the catalog
    assert UploadFile.objects.get(pk=file_id).received == LAST

    again = _put(client, upload, file_id, LAST, BIG[LAST:])

    assert again.status_code == 200 and again.json() == {"received": len(BIG), "complete": True}
    assert _finish(client, upload).status_code == 200
    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.READY and dataset.file_count == 1
    assert DataFile.objects.get().sha256 == hashlib.sha256(BIG).hexdigest()
    assert read_object("raw", key) == BIG
    assert _versions(key) == 1


def test_other_bytes_for_a_completed_file_are_refused_and_store_nothing(
    lake, client_for, form, fail_once
) -> None:
    client = client_for("member")
    upload, file_id, key = _big_upload(client, form)
    fail_once("datafile_record")
    assert _put(client, upload, file_id, LAST, BIG[LAST:]).status_code == 500
    other = bytes(b ^ 0xFF for b in BIG[LAST : LAST + 10]) + BIG[LAST + 10 :]

    refused = _put(client, upload, file_id, LAST, other)

    assert refused.status_code == 409 and "received" not in refused.json()
    assert "'scan/big.raw' is already stored with other bytes" in refused.json()["errors"][0]
    assert not DataFile.objects.exists()
    assert UploadFile.objects.get(pk=file_id).received == LAST
    assert read_object("raw", key) == BIG and _versions(key) == 1
    # The bytes the file was begun with still finish it.
    assert _put(client, upload, file_id, LAST, BIG[LAST:]).json()["complete"]
    assert _finish(client, upload).status_code == 200


SMALL = {f"many/{i:02d}.txt": f"file {i}\n".encode() for i in range(20)}


def _batch_upload(client, form, fail_once):
    """A batch whose database step failed once after every file was stored."""
    status = _start(client, form, tree=SMALL).json()
    ids = {f["path"]: f["id"] for f in status["files"]}
    fail_once("_record_batch")
    crashed = _batch(client, status["upload"], {ids[p]: d for p, d in SMALL.items()})
    assert crashed.status_code == 500
    assert not DataFile.objects.exists() and not UploadFile.objects.filter(completed=True)
    return status["upload"], ids


def _keys() -> dict[str, str]:
    return dict(UploadFile.objects.values_list("path", "storage_key"))


def test_a_batch_sent_again_after_a_database_blip_is_stored_and_recorded_once(
    lake, client_for, form, fail_once
) -> None:
    client = client_for("member")
    upload, ids = _batch_upload(client, form, fail_once)
    keys = _keys()

    again = _batch(client, upload, {ids[p]: d for p, d in SMALL.items()})

    assert again.status_code == 200 and all(f["complete"] for f in again.json()["files"])
    assert _finish(client, upload).status_code == 200
    assert DataFile.objects.count() == len(SMALL)
    for datafile in DataFile.objects.all():
        assert datafile.sha256 == hashlib.sha256(SMALL[datafile.path]).hexdigest()
        assert read_object("raw", datafile.storage_key) == SMALL[datafile.path]
    assert {path: _versions(key) for path, key in keys.items()} == dict.fromkeys(SMALL, 1)


def test_a_batch_repeated_after_it_succeeded_stores_nothing_more(lake, client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form, tree=SMALL).json()
    body = {f["id"]: SMALL[f["path"]] for f in status["files"]}
    assert _batch(client, status["upload"], body).status_code == 200

    repeated = _batch(client, status["upload"], body)

    assert repeated.status_code == 409 and "already has byte 0" in repeated.json()["errors"][0]
    assert DataFile.objects.count() == len(SMALL)
    assert {path: _versions(key) for path, key in _keys().items()} == dict.fromkeys(SMALL, 1)


def test_a_batch_with_other_bytes_for_a_stored_file_is_refused(
    lake, client_for, form, fail_once
) -> None:
    client = client_for("member")
    upload, ids = _batch_upload(client, form, fail_once)
    changed = {**SMALL, "many/07.txt": b"FILE 7\n"}  # same size, other bytes

    refused = _batch(client, upload, {ids[p]: d for p, d in changed.items()})

    assert refused.status_code == 409
    assert "'many/07.txt' is already stored with other bytes" in refused.json()["errors"][0]
    assert not DataFile.objects.exists() and not UploadFile.objects.filter(completed=True)
    key = _keys()["many/07.txt"]
    assert read_object("raw", key) == SMALL["many/07.txt"] and _versions(key) == 1


def test_a_small_file_sent_again_after_a_database_blip_is_stored_once(
    lake, client_for, form, fail_once
) -> None:
    client = client_for("member")
    status = _start(client, form, tree={"notes.txt": b"hello\n"}).json()
    file_id = status["files"][0]["id"]
    fail_once("_advance")
    assert _put(client, status["upload"], file_id, 0, b"hello\n").status_code == 500

    assert _put(client, status["upload"], file_id, 0, b"hello\n").json()["complete"]
    assert _put(client, status["upload"], file_id, 0, b"HELLO\n").status_code == 409
    assert _finish(client, status["upload"]).status_code == 200
    key = DataFile.objects.get().storage_key
    assert read_object("raw", key) == b"hello\n" and _versions(key) == 1


def test_an_exclusive_write_never_replaces_an_object(lake) -> None:
    store = layer_store("raw")
    first = store.put_bytes("d/a.txt", b"one", exclusive=True)

    assert store.put_bytes("d/a.txt", b"one", exclusive=True) == first
    with pytest.raises(ObjectConflict, match="already holds other bytes"):
        store.put_bytes("d/a.txt", b"two", exclusive=True)
    assert read_object("raw", "d/a.txt") == b"one" and _versions("d/a.txt") == 1


def test_a_composite_checksum_from_s3_is_compared_part_by_part() -> None:
    """Real S3 reports a part upload's CRC32 as "<crc of the parts' crcs>-<parts>"
    (moto leaves out the count): both are understood; a full-object CRC is read back."""
    parts = [
        {"PartNumber": 2, "ChecksumCRC32": "AAAAAQ=="},
        {"PartNumber": 1, "ChecksumCRC32": "AAAAAg=="},
    ]
    expected = StoredObject(key="k", size=10, sha256="0" * 64)
    composite = _crc_of([2, 1])  # the parts' CRCs in part order
    assert _checksum_matches({"ChecksumCRC32": f"{composite}-2"}, expected, parts) is True
    assert _checksum_matches({"ChecksumCRC32": "AAAAAA==-2"}, expected, parts) is False
    assert _checksum_matches({"ChecksumCRC32": composite}, expected, parts) is True
    full = {"ChecksumCRC32": "AAAAAA==", "ChecksumType": "FULL_OBJECT"}
    assert _checksum_matches(full, expected, parts) is None


def _crc_of(values: list[int]) -> str:
    joined = b"".join(v.to_bytes(4, "big") for v in values)
    return base64.b64encode(zlib.crc32(joined).to_bytes(4, "big")).decode()
