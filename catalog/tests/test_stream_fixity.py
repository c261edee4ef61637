"""Streams through lakeweb hash as they go; a missing object is an error naming the file.

Corruption is made the way it happens: bytes changed on disk in the layer
folder, or other bytes PUT to the key on the S3 server (moto, another process).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from catalog.models import Activity, DataFile, Dataset, FixityFailure, ProvenanceEvent
from catalog.selectors.archive import ZipBroken
from lakeweb.errors import ChecksumMismatch
from lakeweb.storage import layer_store

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"


def corrupt_on_disk(lake: Path, datafile: DataFile) -> None:
    """Same size, other bytes: only a hash can tell."""
    target = lake / datafile.dataset.layer / datafile.storage_key
    data = bytearray(target.read_bytes())
    data[0] ^= 0xFF
    target.write_bytes(bytes(data))


def zip_pieces(client, dataset: Dataset) -> tuple[bytes, Exception | None]:
    response = client.get(reverse("catalog:dataset_zip", args=[dataset.pk]))
    assert response.status_code == 200
    received, error = b"", None
    try:
        for piece in response.streaming_content:
            received += piece
    except (ZipBroken, ChecksumMismatch) as exc:
        error = exc
    return received, error


def test_corrupted_file_breaks_the_zip_off_records_alerts_once(
    filesystem_lake, client_for, users, member, django_capture_on_commit_callbacks
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    corrupt_on_disk(filesystem_lake, datafile)

    with django_capture_on_commit_callbacks(execute=True):  # the mail goes after commit
        received, error = zip_pieces(client_for("viewer"), dataset)

    assert isinstance(error, ZipBroken)
    assert b"ERROR.txt" in received
    assert f"'{PATH}' is not the file that was sealed".encode() in received
    assert b"PK\x05\x06" not in received  # no central directory: the archive says it is cut
    failure = FixityFailure.objects.get()
    assert (failure.kind, failure.found_by, failure.datafile_id) == ("mismatch", "zip", datafile.pk)
    assert failure.expected_sha256 == datafile.sha256 != failure.found_sha256
    event = ProvenanceEvent.objects.get(activity=Activity.VERIFICATION)
    assert event.dataset_id == dataset.pk and event.parameters["path"] == PATH
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["admin@lab.example"]
    assert PATH in mail.outbox[0].body

    with django_capture_on_commit_callbacks(execute=True):  # seen again: the same failure
        zip_pieces(client_for("viewer"), dataset)
    assert FixityFailure.objects.count() == 1 and len(mail.outbox) == 1


def test_missing_object_ends_the_zip_with_a_message_naming_the_file(
    filesystem_lake, client_for, users, member, django_capture_on_commit_callbacks
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    layer_store("raw").delete(datafile.storage_key)

    with django_capture_on_commit_callbacks(execute=True):
        received, error = zip_pieces(client_for("viewer"), dataset)

    assert isinstance(error, ZipBroken)
    assert f"'{PATH}' is missing from storage".encode() in received
    failure = FixityFailure.objects.get()
    assert (failure.kind, failure.found_by) == ("missing", "zip")
    assert len(mail.outbox) == 1


def test_streamed_download_of_a_corrupted_file_breaks_off(
    filesystem_lake, client_for, users, member
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    corrupt_on_disk(filesystem_lake, datafile)
    url = reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])

    response = client_for("viewer").get(url)
    assert response.status_code == 200
    assert response["Content-Length"] == str(datafile.size)
    with pytest.raises(ChecksumMismatch):
        b"".join(response.streaming_content)
    assert FixityFailure.objects.get().found_by == "download"


def test_intact_streams_pass_and_record_nothing(filesystem_lake, client_for, users, member):
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    client = client_for("viewer")
    download = client.get(reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk]))
    assert b"".join(download.streaming_content) == FILES[PATH]
    received, error = zip_pieces(client, dataset)
    assert error is None and b"PK\x05\x06" in received
    assert not FixityFailure.objects.exists() and not mail.outbox


def test_missing_object_download_is_a_404_naming_the_file(
    filesystem_lake, client_for, users, member
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    layer_store("raw").delete(datafile.storage_key)
    url = reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])

    response = client_for("viewer").get(url)

    assert response.status_code == 404
    assert "readme.txt" in response.content.decode()
    assert FixityFailure.objects.get().kind == "missing"


def test_corrupted_small_file_preview_is_refused(filesystem_lake, client_for, users, member):
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    corrupt_on_disk(filesystem_lake, datafile)
    url = reverse("catalog:datafile_preview", args=[dataset.pk, datafile.pk])

    response = client_for("viewer").get(url)

    assert response.status_code == 502
    assert "not those that were sealed" in response.content.decode()
    assert "Température" not in response.content.decode()
    assert FixityFailure.objects.get().found_by == "preview"


def test_bytes_put_over_an_unversioned_s3_key_break_the_zip(
    s3_lake, client_for, users, member
) -> None:
    processed = promote_dataset(upload_dataset(member), member)
    datafile = processed.files.get(path=PATH)
    store = layer_store("processed")
    store.client.put_object(
        Bucket=store.bucket, Key=datafile.storage_key, Body=b"X" + FILES[PATH][1:]
    )

    _received, error = zip_pieces(client_for("viewer"), processed)

    assert isinstance(error, ZipBroken)
    assert FixityFailure.objects.get().kind == "mismatch"
