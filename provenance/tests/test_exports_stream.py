"""Exports stream in constant memory: bounded pieces and peak, metadata made as it is sent."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from catalog.models import DataFile
from catalog.selectors.archive import READ_CHUNK, SEND_AT_LEAST
from catalog.tests.factories import upload_dataset
from provenance.exports.bag import bag_folder
from provenance.exports.crate import crate_metadata
from provenance.exports.streams import GeneratedFile

pytestmark = pytest.mark.django_db

BIG = 20 * 1024 * 1024
PIECE_AT_MOST = READ_CHUNK + SEND_AT_LEAST + 4096  # one read chunk and what waited to be sent


def stream_to_disk(response, target: Path) -> tuple[int, int]:
    """Write the pieces out as they come, keeping none; the largest piece and the peak memory."""
    assert response.status_code == 200 and response.streaming
    largest = 0
    tracemalloc.start()
    try:
        with open(target, "wb") as out:
            for piece in response.streaming_content:
                largest = max(largest, len(piece))
                out.write(piece)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return largest, peak


@pytest.mark.parametrize("name", ["provenance:dataset_bagit", "provenance:dataset_ro_crate"])
def test_archive_memory_stays_bounded(lake, client_for, member, tmp_path, name: str) -> None:
    data = os.urandom(BIG)
    dataset = upload_dataset(member, files={"big.bin": data, "small.txt": b"hi"})
    target = tmp_path / "out.zip"
    largest, peak = stream_to_disk(
        client_for("viewer").get(reverse(name, args=[dataset.pk])), target
    )
    assert largest <= PIECE_AT_MOST
    assert peak < 4 * READ_CHUNK, f"peak {peak} bytes while exporting {BIG}"
    with zipfile.ZipFile(target) as archive:
        prefix = f"{bag_folder(dataset=dataset)}/data/" if "bagit" in name else "data/"
        digest = hashlib.sha256(archive.read(prefix + "big.bin")).hexdigest()
    assert digest == hashlib.sha256(data).hexdigest()


def test_generated_file_holds_one_piece_at_a_time() -> None:
    lines = 300_000  # about 30 MB of manifest
    text = (f"{'a' * 64}  data/run/file-{n:07}.tif\n" for n in range(lines))
    digests: list[str] = []
    tracemalloc.start()
    try:
        size = 0
        with GeneratedFile(text, on_close=digests.append) as source:
            while chunk := source.read(READ_CHUNK):
                assert len(chunk) <= READ_CHUNK
                size += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert size == lines * len(f"{'a' * 64}  data/run/file-0000000.tif\n")
    assert peak < 4 * READ_CHUNK, f"peak {peak} bytes for {size} bytes generated"
    expected = hashlib.sha256(
        "".join(f"{'a' * 64}  data/run/file-{n:07}.tif\n" for n in range(lines)).encode()
    )
    assert digests == [expected.hexdigest()]


def test_crate_metadata_of_many_files_is_written_as_it_goes(member) -> None:
    dataset = upload_dataset(member)
    rows = [
        DataFile(
            dataset=dataset,
            path=f"plates/plate-{n // 1000}/well-{n:06}.csv",
            size=n,
            sha256=f"{n:064x}",
            storage_key=f"k/{n}",
            folder=f"plates/plate-{n // 1000}",
        )
        for n in range(20_000)
    ]
    DataFile.objects.bulk_create(rows, batch_size=2000)
    del rows
    pieces = crate_metadata(dataset=dataset)
    tracemalloc.start()
    try:
        total = largest = 0
        out = []
        for piece in pieces:
            total += len(piece)
            largest = max(largest, len(piece))
            out.append(hashlib.sha256(piece.encode()).digest()[:1])  # keep nothing of size
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total > 5_000_000 and largest < 10_000
    assert peak < total / 4, f"peak {peak} bytes for {total} bytes of metadata"


def test_crate_metadata_pieces_make_one_json_document(member) -> None:
    dataset = upload_dataset(member)
    document = json.loads("".join(crate_metadata(dataset=dataset)))
    ids = [entity["@id"] for entity in document["@graph"]]
    assert len(ids) == len(set(ids))  # no entity twice
    root = next(entity for entity in document["@graph"] if entity["@id"] == "./")
    files = {entity["@id"] for entity in document["@graph"] if entity["@type"] == "File"}
    assert {part["@id"] for part in root["hasPart"]} == files
    assert len(files) == dataset.file_count
