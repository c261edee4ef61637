"""What lakeweb reads is what it sealed: version ids on S3 (issue 12, item 5).

On the moto server in its own process. Raw is Object-Locked, so versioned:
every write path records the version it made, and a later PUT over the key
(which Object Lock accepts as a new version) changes nothing lakeweb serves.
"""

from __future__ import annotations

import hashlib
import io
import urllib.request
import zipfile

import pytest
from django.urls import reverse

from catalog.models import DataFile
from lakeweb.storage import layer_store

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"
OTHER = b"someone else's bytes\n"


def overwrite(datafile: DataFile, data: bytes = OTHER) -> str:
    """PUT other bytes over the file's key behind lakeweb's back; the new version id."""
    store = layer_store(datafile.dataset.layer)
    answer = store.client.put_object(
        Bucket=store.bucket, Key=datafile.storage_key, Body=data, ChecksumAlgorithm="SHA256"
    )
    return answer["VersionId"]


def test_every_s3_write_path_records_a_version(s3_lake) -> None:
    raw = layer_store("raw")
    saved = raw.save("v/saved.bin", io.BytesIO(b"saved"))
    put = raw.put_bytes("v/put.bin", b"put", exclusive=True)
    again = raw.put_bytes("v/put.bin", b"put", exclusive=True)  # a retried request
    upload_id = raw.part_upload_begin("v/parts.bin")
    with raw.part_writer("v/parts.bin", upload_id, number=1, offset=0, length=5) as writer:
        writer.write(b"parts")
        part = writer.finish()
    completed = raw.part_upload_complete("v/parts.bin", upload_id, [part])
    copied = raw.copy_to("v/saved.bin", layer_store("processed"), "v/copy.bin")

    head = raw.client.head_object
    for key, version in [
        ("v/saved.bin", saved.version_id),
        ("v/put.bin", put.version_id),
        ("v/parts.bin", completed),
    ]:
        assert version and head(Bucket=raw.bucket, Key=key)["VersionId"] == version
    assert again.version_id == put.version_id  # found, not written again
    # processed is not versioned here: no version to name, none recorded
    assert copied.version_id is None and copied.sha256 == hashlib.sha256(b"saved").hexdigest()


def test_filesystem_keeps_no_versions(member) -> None:
    dataset = upload_dataset(member)
    assert set(dataset.files.values_list("version_id", flat=True)) == {None}


def test_a_put_over_a_raw_key_changes_nothing_lakeweb_serves(s3_lake, client_for, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    assert datafile.version_id
    overwrite(datafile)
    client = client_for("viewer")

    # a presigned download names the sealed version
    response = client.get(reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk]))
    assert response.status_code == 302 and "versionId=" in response.url
    with urllib.request.urlopen(response.url) as fetched:  # noqa: S310 - the test's moto server
        assert fetched.read() == FILES[PATH]
    # the zip, the preview, and a promotion's copy read it too
    archive = client.get(reverse("catalog:dataset_zip", args=[dataset.pk]))
    members = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content)))
    assert members.read(PATH) == FILES[PATH]
    preview = client.get(reverse("catalog:datafile_preview", args=[dataset.pk, datafile.pk]))
    assert "Température 37 °C" in preview.content.decode()
    processed = promote_dataset(dataset, member)
    copy = processed.files.get(path=PATH)
    with layer_store("processed").open(copy.storage_key) as stream:
        assert stream.read() == FILES[PATH]
