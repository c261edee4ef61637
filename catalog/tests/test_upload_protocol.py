"""The resumable upload protocol, through the real views, on both storages."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog import services
from catalog.models import DataFile, Dataset, DatasetStatus, Source, UploadFile, UploadPart
from catalog.services import uploads_abandoned_clean
from conftest import ROLES, read_object
from lakeweb.storage import layer_store

from .factories import microscopy_form

pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
BIG = os.urandom(11 * MIB + 123)  # three parts of 5 MiB, the last one short
TREE = {
    "scan/big.raw": BIG,
    "scan/sub dir/été.txt": "ça va\n".encode(),
    "scan/empty.bin": b"",
}


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.UPLOAD_CHUNK_SIZE = 5 * MIB  # S3's smallest part
    settings.UPLOAD_ORDER_WAIT_SECONDS = 2


@pytest.fixture
def form():
    return microscopy_form()


def _start(client, form, tree=TREE, **overrides):
    data = {
        "name": "Scan 4",
        "source": "upload",
        "experiments": "2",
        "exp0-sample": "A",
        "exp0-magnification": "10",
        "exp1-sample": "B",
        "exp1-magnification": "20",
        "manifest": json.dumps([{"path": p, "size": len(d)} for p, d in tree.items()]),
    }
    data.update(overrides)
    return client.post(reverse("catalog:upload_start", args=[form.pk]), data)


def _put(client, upload, file_id, offset, body):
    url = reverse("catalog:upload_chunk", args=[upload, file_id]) + f"?offset={offset}"
    return client.generic("PUT", url, body, content_type="application/octet-stream")


def _put_stream(client, upload, file_id, stream, length: int):
    """The first chunk as a body that ``stream`` hands over as read, ``length`` announced."""
    url = reverse("catalog:upload_chunk", args=[upload, file_id]) + "?offset=0"
    return client.generic(
        "PUT",
        url,
        content_type="application/octet-stream",
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": stream},
    )


def _send_all(client, status, tree=TREE, stop_after=None):
    sent = 0
    for entry in status["files"]:
        data, offset = tree[entry["path"]], entry["received"]
        while offset < entry["size"] or (
            entry["size"] == 0 and offset == 0 and not entry["complete"]
        ):
            body = data[offset : offset + entry["chunk_size"]]
            response = _put(client, status["upload"], entry["id"], offset, body)
            assert response.status_code == 200, response.json()
            offset = response.json()["received"]
            sent += 1
            if response.json()["complete"] or sent == stop_after:
                break
        if sent == stop_after:
            return


def _finish(client, upload):
    return client.post(reverse("catalog:upload_finish", args=[upload]))


def _nothing_stored() -> None:
    assert not Dataset.objects.exists() and not UploadFile.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_chunked_upload_stores_and_hashes_every_file(lake, client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    assert {f["path"] for f in status["files"]} == set(TREE)

    _send_all(client, status)
    assert UploadPart.objects.exists()  # the big file's parts, dropped when it finishes
    response = _finish(client, status["upload"])

    assert response.status_code == 200
    dataset = Dataset.objects.get()
    assert response.json()["url"] == reverse("catalog:dataset_detail", args=[dataset.pk])
    assert dataset.status == DatasetStatus.READY and dataset.file_count == 3
    for datafile in dataset.files.all():
        data = TREE[datafile.path]
        assert datafile.sha256 == hashlib.sha256(data).hexdigest()
        assert read_object("raw", datafile.storage_key) == data
    assert [e["sample"] for e in dataset.metadata["experiments"]] == ["A", "B"]
    assert not UploadFile.objects.exists() and not UploadPart.objects.exists()


def test_upload_resumes_from_what_the_server_has(lake, client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    _send_all(client, status, stop_after=2)  # then the page is closed

    # A new page asks what arrived and goes on from there.
    status = client.get(reverse("catalog:upload_session", args=[status["upload"]])).json()
    big = next(f for f in status["files"] if f["path"] == "scan/big.raw")
    assert big["received"] == 10 * MIB and not big["complete"]
    assert not Dataset.objects.get().files.exists() or big["received"] < big["size"]
    _send_all(client, status)

    assert _finish(client, status["upload"]).status_code == 200
    datafile = DataFile.objects.get(path="scan/big.raw")
    assert datafile.sha256 == hashlib.sha256(BIG).hexdigest()
    assert read_object("raw", datafile.storage_key) == BIG


def test_unfinished_upload_is_invisible(client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    _send_all(client, status, stop_after=1)
    dataset = Dataset.objects.get()
    viewer = client_for("viewer")
    assert viewer.get(reverse("catalog:dataset_detail", args=[dataset.pk])).status_code == 404
    assert "Scan 4" not in viewer.get(reverse("catalog:dataset_list")).content.decode()


@pytest.mark.parametrize(
    "manifest, message",
    [
        ([{"path": "../x", "size": 1}], "paths must stay inside"),
        ([{"path": "/etc/passwd", "size": 1}], "absolute path"),
        ([{"path": "a\x00b", "size": 1}], "control characters"),
        ([{"path": "invoice\u202etxt.exe", "size": 1}], "control characters"),
        ([{"path": "a\u2028b", "size": 1}], "control characters"),
        ([{"path": "a.txt", "size": 1}, {"path": "a.txt", "size": 2}], "appears twice"),
        ([{"path": "\u00e9.txt", "size": 1}, {"path": "e\u0301.txt", "size": 1}], "normalisation"),
        ([{"path": "x/" + "n" * 300, "size": 1}], "300 bytes long"),
        ([{"path": "a.txt", "size": -1}], "impossible size"),
        ([{"path": "a.txt", "size": "big"}], "impossible size"),
        ([], "no files"),
    ],
)
def test_start_refuses_bad_files_and_stores_nothing(
    lake, client_for, form, manifest, message
) -> None:
    response = _start(client_for("member"), form, manifest=json.dumps(manifest))
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"])
    _nothing_stored()


def test_start_refuses_invalid_metadata_per_experiment(client_for, form) -> None:
    response = _start(client_for("member"), form, **{"exp1-sample": "", "exp1-magnification": "0"})
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    assert "Experiment 2 · Sample name: This field is required." in errors
    assert (
        "Experiment 2 · Magnification: Ensure this value is greater than or equal to 1." in errors
    )
    _nothing_stored()


def test_start_refuses_a_malformed_manifest(client_for, form) -> None:
    response = _start(client_for("member"), form, manifest="not json")
    assert response.status_code == 400
    assert "not valid JSON" in " ".join(response.json()["errors"])
    _nothing_stored()


def _opened(client, form):
    status = _start(client, form).json()
    big = next(f for f in status["files"] if f["path"] == "scan/big.raw")
    return status, big


def test_chunk_at_the_wrong_offset_says_where_to_go_on(client_for, form) -> None:
    client = client_for("member")
    status, big = _opened(client, form)
    response = _put(client, status["upload"], big["id"], 5 * MIB, BIG[5 * MIB : 10 * MIB])
    assert response.status_code == 409 and response.json()["received"] == 0
    assert UploadFile.objects.get(pk=big["id"]).received == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_chunks_may_arrive_out_of_order(lake, client_for, member, form) -> None:
    """A chunk may get there before the one ahead of it (a retry racing a slow request):
    it is stored, kept until its turn, and hashed then."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection
    from django.test import Client

    if connection.vendor == "sqlite":
        pytest.skip(
            "concurrent requests need a server database; SQLite's test one is shared in memory"
        )
    status, big = _opened(client_for("member"), form)

    def put(offset: int):
        client = Client()
        client.force_login(member)
        return _put(client, status["upload"], big["id"], offset, BIG[offset : offset + 5 * MIB])

    def put_closing(offset: int):
        try:
            return put(offset)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        later = pool.submit(put_closing, 5 * MIB)
        time.sleep(0.1)  # the second chunk is stored and waiting for its turn
        first = pool.submit(put_closing, 0)
        assert first.result().status_code == 200 and later.result().status_code == 200
    assert put(10 * MIB).json() == {"received": len(BIG), "complete": True}
    datafile = DataFile.objects.get(path="scan/big.raw")
    assert datafile.sha256 == hashlib.sha256(BIG).hexdigest()
    assert read_object("raw", datafile.storage_key) == BIG


def test_a_chunk_cut_short_counts_for_nothing(lake, client_for, form) -> None:
    """A body that ends early (a dropped connection) is refused; sent again, it is whole."""
    client = client_for("member")
    status, big = _opened(client, form)
    # announces 5 MiB, holds 3
    cut = _put_stream(client, status["upload"], big["id"], io.BytesIO(BIG[: 3 * MIB]), 5 * MIB)
    assert cut.status_code == 400
    assert "ended after 3145728 of 5242880 bytes" in cut.json()["errors"][0]
    assert UploadFile.objects.get(pk=big["id"]).received == 0
    _send_all(client, status)
    assert _finish(client, status["upload"]).status_code == 200
    datafile = DataFile.objects.get(path="scan/big.raw")
    assert datafile.sha256 == hashlib.sha256(BIG).hexdigest()
    assert read_object("raw", datafile.storage_key) == BIG


def test_chunk_size_is_the_stores_unless_configured(lake, client_for, form, settings) -> None:
    """S3 holds a part in memory while sending it (8 MiB); the filesystem never
    holds a chunk (32 MiB). UPLOAD_CHUNK_SIZE overrides both."""
    settings.UPLOAD_CHUNK_SIZE = None
    client = client_for("member")
    status = _start(client, form).json()
    big = next(f for f in status["files"] if f["path"] == "scan/big.raw")
    assert big["chunk_size"] == {"s3": 8 * MIB, "filesystem": 32 * MIB}[lake]
    settings.UPLOAD_CHUNK_SIZE = 6 * MIB
    status = _start(client, form, name="Scan 5").json()
    assert {f["chunk_size"] for f in status["files"]} == {6 * MIB}


class _Wire(io.RawIOBase):
    """A request body as a socket hands it over: every read is new memory."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = memoryview(data), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else min(self.pos + size, len(self.data))
        piece = bytes(self.data[self.pos : end])
        self.pos = end
        return piece


def test_a_chunk_goes_to_disk_without_being_held(filesystem_lake, client_for, form, settings):
    """On the filesystem a chunk streams to its place a piece at a time: the
    request never holds the chunk (32 MiB here), only a piece of it."""
    import tracemalloc

    settings.UPLOAD_CHUNK_SIZE = 32 * MIB
    client = client_for("member")
    data = os.urandom(32 * MIB + 1)
    status = _start(client, form, tree={"scan/big.raw": data}).json()
    entry = status["files"][0]
    body = _Wire(data[: 32 * MIB])
    tracemalloc.start()
    try:
        response = _put_stream(client, status["upload"], entry["id"], body, 32 * MIB)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200 and response.json()["received"] == 32 * MIB
    assert peak < 8 * MIB, f"the request held {peak} bytes for a 32 MiB chunk"
    assert _put(client, status["upload"], entry["id"], 32 * MIB, data[32 * MIB :]).json()[
        "complete"
    ]
    assert DataFile.objects.get().sha256 == hashlib.sha256(data).hexdigest()


def test_a_repeated_chunk_is_not_stored_twice(lake, client_for, form) -> None:
    client = client_for("member")
    status, big = _opened(client, form)
    assert _put(client, status["upload"], big["id"], 0, BIG[: 5 * MIB]).status_code == 200
    again = _put(client, status["upload"], big["id"], 0, BIG[: 5 * MIB])
    assert again.status_code == 409 and again.json()["received"] == 5 * MIB


@pytest.mark.parametrize("size", [5 * MIB - 1, 5 * MIB + 1, 0])
def test_chunk_of_the_wrong_size_is_refused(client_for, form, size: int) -> None:
    client = client_for("member")
    status, big = _opened(client, form)
    response = _put(client, status["upload"], big["id"], 0, BIG[:size])
    assert response.status_code == 400
    assert "must be 5242880 bytes" in response.json()["errors"][0]
    assert UploadFile.objects.get(pk=big["id"]).received == 0


def test_chunk_beyond_the_end_is_refused(client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    small = next(f for f in status["files"] if f["path"] == "scan/sub dir/été.txt")
    response = _put(client, status["upload"], small["id"], 100, b"x")
    assert response.status_code == 400
    assert "has no chunk at byte 100" in response.json()["errors"][0]
    assert UploadFile.objects.get(pk=small["id"]).received == 0


def test_someone_elses_upload_is_refused(client_for, form) -> None:
    status, big = _opened(client_for("member"), form)
    curator = client_for("curator")
    response = _put(curator, status["upload"], big["id"], 0, BIG[: 5 * MIB])
    assert response.status_code == 403
    assert "belongs to another user" in response.json()["errors"][0]
    assert (
        curator.get(reverse("catalog:upload_session", args=[status["upload"]])).status_code == 403
    )
    assert UploadFile.objects.get(pk=big["id"]).received == 0


def test_a_file_of_another_upload_is_refused(client_for, form) -> None:
    client = client_for("member")
    _first, big = _opened(client, form)
    second = _start(client, form, name="other").json()
    response = _put(client, second["upload"], big["id"], 0, BIG[: 5 * MIB])
    assert response.status_code == 400 and "no such file" in response.json()["errors"][0]


def test_finish_refuses_while_files_are_missing(client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    response = _finish(client, status["upload"])
    assert response.status_code == 409  # the upload's state, not the request, is wrong
    assert "not complete yet" in response.json()["errors"][0]
    assert Dataset.objects.get().status == DatasetStatus.UPLOADING


def test_a_finished_upload_takes_no_more_chunks(client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    _send_all(client, status)
    _finish(client, status["upload"])
    response = _put(client, status["upload"], status["files"][0]["id"], 0, b"x")
    assert response.status_code == 409 and "no longer open" in response.json()["errors"][0]


def test_cancel_removes_everything_stored(lake, client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    _send_all(client, status, stop_after=2)  # two parts of the big file are stored
    assert layer_store("raw").part_uploads_stale(before=timezone.now() + datetime.timedelta(1))

    response = client.delete(reverse("catalog:upload_session", args=[status["upload"]]))

    assert response.status_code == 200
    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.FAILED and "cancelled" in dataset.failure_reason
    assert list(layer_store("raw").list_keys(dataset.storage_prefix)) == []
    assert (
        layer_store("raw").part_uploads_stale(before=timezone.now() + datetime.timedelta(1)) == []
    )


def test_abandoned_uploads_are_cleaned(lake, client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form).json()
    _send_all(client, status, stop_after=1)
    long_ago = timezone.now() - datetime.timedelta(days=3)
    Dataset.objects.update(created_at=long_ago)
    UploadFile.objects.update(updated_at=long_ago)

    assert uploads_abandoned_clean(older_than=datetime.timedelta(hours=48)) == 1

    assert Dataset.objects.get().status == DatasetStatus.FAILED
    assert not UploadFile.objects.exists() and not UploadPart.objects.exists()
    assert (
        layer_store("raw").part_uploads_stale(before=timezone.now() + datetime.timedelta(1)) == []
    )


def test_recent_uploads_are_left_alone(client_for, form) -> None:
    status = _start(client_for("member"), form).json()
    assert uploads_abandoned_clean(older_than=datetime.timedelta(hours=48)) == 0
    assert Dataset.objects.get(pk=status["upload"]).status == DatasetStatus.UPLOADING


def test_a_long_ingest_is_not_taken_for_an_abandoned_upload(member, form) -> None:
    # An ingest or API registration has no upload files: it copies as long as it must.
    dataset = services.dataset_upload_start(
        draft=services.DatasetDraft(
            owner=member,
            name="Big ingest",
            source=Source.objects.get(slug="upload"),
            experiments=[],
        )
    )
    Dataset.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))
    assert uploads_abandoned_clean(older_than=datetime.timedelta(hours=48)) == 0
    assert Dataset.objects.get(pk=dataset.pk).status == DatasetStatus.UPLOADING


START = {"anonymous": 302, "viewer": 403, "member": 201, "curator": 201, "admin": 201}


@pytest.mark.parametrize("role", ROLES)
def test_start_permissions(client_for, form, role: str) -> None:
    response = _start(client_for(role), form)
    assert response.status_code == START[role]
    assert Dataset.objects.exists() == (START[role] == 201)


def test_chunk_needs_csrf_token(member, form) -> None:
    from django.test import Client

    status, big = _opened(_logged(member), form)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(member)
    response = _put(strict, status["upload"], big["id"], 0, BIG[: 5 * MIB])
    assert response.status_code == 403
    assert UploadFile.objects.get(pk=big["id"]).received == 0


def _logged(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _batch(client, upload, files: dict[int, bytes], *, ids: str | None = None):
    """The batch as the page sends it: the files' bytes one after another, ids in the URL."""
    listed = ",".join(str(i) for i in files) if ids is None else ids
    url = reverse("catalog:upload_batch", args=[upload]) + "?files=" + listed
    return client.post(url, b"".join(files.values()), content_type="application/octet-stream")


def test_small_files_go_in_one_batch(lake, client_for, form) -> None:
    client = client_for("member")
    tree = {f"many/{i:03d}.txt": f"file {i}\n".encode() for i in range(50)}
    status = _start(client, form, tree=tree).json()
    ids = {f["path"]: f["id"] for f in status["files"]}

    response = _batch(client, status["upload"], {ids[p]: d for p, d in tree.items()})

    assert response.status_code == 200 and all(f["complete"] for f in response.json()["files"])
    assert _finish(client, status["upload"]).status_code == 200
    for datafile in Dataset.objects.get().files.all():
        assert read_object("raw", datafile.storage_key) == tree[datafile.path]
        assert datafile.sha256 == hashlib.sha256(tree[datafile.path]).hexdigest()


def test_batch_refuses_a_wrong_size_and_stores_none_of_it(client_for, form) -> None:
    client = client_for("member")
    tree = {"a.txt": b"aaaa", "b.txt": b"bbbb"}
    status = _start(client, form, tree=tree).json()
    ids = {f["path"]: f["id"] for f in status["files"]}

    response = _batch(client, status["upload"], {ids["a.txt"]: b"aaaa", ids["b.txt"]: b"bb"})

    assert response.status_code == 400
    assert "must be the 2 files' 8 bytes, not 6" in response.json()["errors"][0]
    assert not UploadFile.objects.filter(completed=True).exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_batch_refuses_large_files_and_foreign_ids(client_for, form) -> None:
    client = client_for("member")
    status, big = _opened(client, form)
    response = _batch(client, status["upload"], {big["id"]: BIG[: 5 * MIB]})
    assert response.status_code == 400 and "send it in chunks" in response.json()["errors"][0]
    response = _batch(client, status["upload"], {999999: b"x"})
    assert response.status_code == 400 and "no file 999999" in response.json()["errors"][0]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("", "List the batch's files"),
        ("1,x", "List the batch's files"),
        ("1,-2", "List the batch's files"),
        ("\u0661", "List the batch's files"),  # an Arabic-Indic digit is not an id
        ("9" * 40, "List the batch's files"),
        (",".join(["7"] * 2), "each file once"),
        (",".join(str(i) for i in range(600)), "at most 500 files"),
        ("1" * 20_000, "at most 500 files"),
    ],
)
def test_batch_refuses_a_bad_file_list_and_stores_nothing(client_for, form, ids, message) -> None:
    client = client_for("member")
    status = _start(client, form, tree={"a.txt": b"aaaa"}).json()
    response = _batch(client, status["upload"], {0: b"aaaa"}, ids=ids)
    assert response.status_code == 400 and message in response.json()["errors"][0]
    assert not DataFile.objects.exists() and not UploadFile.objects.filter(completed=True).exists()
    assert list(layer_store("raw").list_keys("")) == []
