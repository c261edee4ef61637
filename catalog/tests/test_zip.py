"""The whole dataset as a zip, streamed with constant memory, on both storages."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import uuid
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import Dataset
from catalog.selectors.archive import (
    READ_CHUNK,
    SEND_AT_LEAST,
    ZipMember,
    dataset_zip,
    dataset_zip_filename,
    zip_stream,
)
from conftest import ROLES

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}

TREE = {
    "README.md": b"# Plate 3\n",
    "plate 3/well A1.csv": b"t,signal\n0,1.5\n1,1.7\n",
    "plate 3/empty.log": b"",
    "plate 3/métadonnées/échantillon µ.json": '{"température": "37 °C"}'.encode(),
    "plate 3/raw/frame.bin": os.urandom(3 * 1024 * 1024 + 17),  # several read chunks
}


def zip_url(dataset: Dataset) -> str:
    return reverse("catalog:dataset_zip", args=[dataset.pk])


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


@pytest.mark.parametrize("role", ROLES)
def test_zip_permissions(client_for, member, role: str) -> None:
    dataset = upload_dataset(member)
    response = client_for(role).get(zip_url(dataset))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert sorted(unzip(response).namelist()) == sorted(FILES)
    else:
        assert response["Location"].startswith(reverse("account_login"))


def test_zip_refused_to_a_user_without_a_role(client, django_user_model, member) -> None:
    dataset = upload_dataset(member)
    client.force_login(django_user_model.objects.create_user(username="n", email="n@lab.example"))
    response = client.get(zip_url(dataset))
    assert response.status_code == 403
    assert "ask an admin" in response.content.decode()


def test_zip_open_to_anonymous_with_public_browsing(client, settings, member) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    dataset = upload_dataset(member)
    response = client.get(zip_url(dataset))
    assert response.status_code == 200
    assert sorted(unzip(response).namelist()) == sorted(FILES)


def test_zip_holds_every_file_byte_for_byte(lake, client_for, member) -> None:
    dataset = upload_dataset(member, files=TREE, name="Plate 3 / run <1>")
    response = client_for("viewer").get(zip_url(dataset))

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="Plate_3_run_1-raw.zip"'
    archive = unzip(response)
    assert archive.testzip() is None  # every CRC-32 checks
    assert archive.namelist() == sorted(TREE)  # path order
    for info in archive.infolist():
        assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read(info) == TREE[info.filename]
    assert archive.getinfo("plate 3/empty.log").file_size == 0


def test_zip_of_a_promoted_dataset_reads_its_own_layer(lake, client_for, member, curator) -> None:
    processed = promote_dataset(upload_dataset(member, files=TREE), curator)
    response = client_for("viewer").get(zip_url(processed))
    assert response["Content-Disposition"].endswith('-processed.zip"')
    archive = unzip(response)
    assert {name: archive.read(name) for name in archive.namelist()} == TREE


def test_zip_filename_is_sanitised() -> None:
    assert dataset_zip_filename(dataset=Dataset(name="../../etc/passwd", layer="raw")) == (
        "etc_passwd-raw.zip"
    )
    assert dataset_zip_filename(dataset=Dataset(name='a"b\r\nc', layer="curated")) == (
        "a_b_c-curated.zip"
    )
    assert dataset_zip_filename(dataset=Dataset(name="Été 2024", layer="raw")) == (
        "Été_2024-raw.zip"
    )
    assert dataset_zip_filename(dataset=Dataset(name="///", layer="raw")) == "dataset-raw.zip"


def test_unicode_dataset_name_in_the_download_header(client_for, member) -> None:
    dataset = upload_dataset(member, name="Été 2024")
    response = client_for("viewer").get(zip_url(dataset))
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''%C3%89t%C3%A9_2024-raw.zip"
    )


def test_deleted_dataset_has_no_zip(client_for, member, curator) -> None:
    processed = promote_dataset(upload_dataset(member), curator)
    services.dataset_delete(dataset=processed, user=curator)
    response = client_for("viewer").get(zip_url(processed))
    assert response.status_code == 404
    assert "This dataset was deleted; its files are gone." in response.content.decode()
    with pytest.raises(ValueError, match="only a ready dataset"):
        dataset_zip(dataset=Dataset.objects.get(pk=processed.pk))


def test_unknown_or_malformed_dataset_has_no_zip(client_for) -> None:
    client = client_for("viewer")
    response = client.get(reverse("catalog:dataset_zip", args=[uuid.uuid4()]))
    assert response.status_code == 404 and "No such dataset." in response.content.decode()
    assert client.get("/datasets/not-a-uuid/zip/").status_code == 404


# -- constant memory ----------------------------------------------------------

BIG = 20 * 1024 * 1024


def _stream_to_disk(pieces, target: Path) -> int:
    """Write the pieces out as they come, keeping none; the largest piece's size."""
    largest = 0
    with open(target, "wb") as out:
        for piece in pieces:
            largest = max(largest, len(piece))
            out.write(piece)
    return largest


def _zip_a_big_file(client, dataset: Dataset, target: Path) -> tuple[int, int]:
    response = client.get(zip_url(dataset))
    tracemalloc.start()
    try:
        largest = _stream_to_disk(response.streaming_content, target)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return largest, peak


def _check_archive(target: Path, data: bytes) -> None:
    with zipfile.ZipFile(target) as archive:
        assert archive.namelist() == ["big.bin", "small.txt"]
        assert hashlib.sha256(archive.read("big.bin")).digest() == hashlib.sha256(data).digest()


def test_zip_memory_stays_bounded_on_the_filesystem(client_for, member, tmp_path) -> None:
    data = os.urandom(BIG)
    dataset = upload_dataset(member, files={"big.bin": data, "small.txt": b"hi"})
    largest, peak = _zip_a_big_file(client_for("viewer"), dataset, tmp_path / "out.zip")
    assert largest <= READ_CHUNK + SEND_AT_LEAST + 4096  # one read chunk and what waited to be sent
    assert peak < 4 * READ_CHUNK, f"peak {peak} bytes while zipping {BIG}"
    _check_archive(tmp_path / "out.zip", data)


def test_zip_memory_stays_bounded_on_s3(s3_lake, client_for, member, tmp_path) -> None:
    data = os.urandom(BIG)
    dataset = upload_dataset(member, files={"big.bin": data, "small.txt": b"hi"})
    largest, peak = _zip_a_big_file(client_for("viewer"), dataset, tmp_path / "out.zip")
    _check_archive(tmp_path / "out.zip", data)
    assert largest <= READ_CHUNK + SEND_AT_LEAST + 4096
    assert peak < 4 * READ_CHUNK, f"peak {peak} bytes while zipping {BIG}"


def test_zip_stream_pieces_are_bounded_and_the_archive_complete() -> None:
    big = os.urandom(5 * READ_CHUNK + 3)
    members = [
        ZipMember("a/big.bin", len(big), (2024, 5, 1, 12, 0, 0), lambda: io.BytesIO(big)),
        ZipMember("a/empty", 0, (2024, 5, 1, 12, 0, 0), lambda: io.BytesIO(b"")),
    ]
    pieces = list(zip_stream(members))
    assert all(pieces) and max(len(p) for p in pieces) <= READ_CHUNK + SEND_AT_LEAST + 4096
    archive = zipfile.ZipFile(io.BytesIO(b"".join(pieces)))
    assert archive.read("a/big.bin") == big and archive.read("a/empty") == b""
    assert archive.getinfo("a/big.bin").date_time == (2024, 5, 1, 12, 0, 0)


def test_zip_stream_past_65535_files_uses_zip64() -> None:
    count = 70_000
    members = (
        ZipMember(f"f{i}", 1, (2024, 1, 1, 0, 0, 0), lambda: io.BytesIO(b"x")) for i in range(count)
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(zip_stream(members))))
    names = archive.namelist()
    assert len(names) == count and names[-1] == f"f{count - 1}"
    assert archive.read("f69999") == b"x"
