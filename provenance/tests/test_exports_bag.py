"""BagIt downloads: bagit validates them, on both stores, whatever the file names."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import bagit
import pytest
from django.urls import reverse

from catalog.models import FixityFailure
from catalog.selectors.archive import ZipBroken
from catalog.tests.factories import sealed_dataset, upload_dataset
from lakeweb.errors import ChecksumMismatch
from lakeweb.storage import layer_store
from provenance.exports.bag import bag_folder, manifest_path

from .exports import download, pipeline_output, unzip

pytestmark = pytest.mark.django_db

# What upload lets through: spaces, "#", unicode, an empty file; never control
# characters (CR, LF), "..", or absolute paths (catalog.services.paths).
HOSTILE = {
    "README.md": b"# Plate 3\n",
    "plate 3/well A1.csv": b"t,signal\n0,1.5\n1,1.7\n",
    "plate 3/run #1 (final).txt": b"hash and brackets",
    "plate 3/métadonnées/échantillon µ.json": '{"température": "37 °C"}'.encode(),
    "plate 3/empty.log": b"",
}
# "%" is allowed too, and RFC 8493 §2.1.3 has manifests write it "%25";
# bagit 1.9.0 decodes only %0D and %0A (LibraryOfCongress/bagit-python#157).
PERCENT = {"100% done.txt": b"percent", "%0A not a newline.txt": b"escaped-looking"}


def rfc_8493_decode(path: str) -> str:
    """Manifest path decoding as RFC 8493 §2.1.3 has it: %0D, %0A and %25, nothing else."""
    codes = {"%0D": "\r", "%0A": "\n", "%25": "%"}
    return re.sub(r"%(0D|0A|25)", lambda match: codes[match.group(0).upper()], path, flags=re.I)


def bag_of(client, dataset, tmp_path):
    data = download(client.get(reverse("provenance:dataset_bagit", args=[dataset.pk])))
    return unzip(data, tmp_path / "bag") / bag_folder(dataset=dataset)


def test_bag_validates_with_hostile_names(lake, client_for, member, tmp_path) -> None:
    dataset = upload_dataset(member, files=HOSTILE, name="Plate 3")
    folder = bag_of(client_for("viewer"), dataset, tmp_path)

    bag = bagit.Bag(str(folder))
    bag.validate()  # completeness, Payload-Oxum, every payload and tag file's SHA-256
    assert bag.is_valid()
    assert bag.info["Payload-Oxum"] == f"{dataset.total_size}.{len(HOSTILE)}"
    assert bag.info["External-Identifier"] == f"urn:uuid:{dataset.pk}"
    assert bag.info["Metadata-experiment-sample"] == "HeLa-1"
    assert bag.info["Lakeweb-Manifest-SHA256"] == dataset.manifest_digest
    assert set(bag.payload_files()) == {f"data/{path}" for path in HOSTILE}
    for path, data in HOSTILE.items():
        assert (folder / "data" / path).read_bytes() == data
        assert bag.entries[f"data/{path}"]["sha256"] == hashlib.sha256(data).hexdigest()


def test_bag_with_percent_in_names_follows_rfc_8493(client_for, member, monkeypatch, tmp_path):
    dataset = upload_dataset(member, files={**HOSTILE, **PERCENT})
    folder = bag_of(client_for("viewer"), dataset, tmp_path)
    manifest = (folder / "manifest-sha256.txt").read_text()
    assert "  data/100%25 done.txt\n" in manifest
    assert "  data/%250A not a newline.txt\n" in manifest
    with pytest.raises(bagit.BagValidationError, match=r"100%25 done\.txt exists in manifest"):
        bagit.Bag(str(folder)).validate()  # bagit-python#157: it reads "%25" as is

    monkeypatch.setattr(bagit, "_decode_filename", rfc_8493_decode)
    bag = bagit.Bag(str(folder))
    bag.validate()
    assert set(bag.payload_files()) == {f"data/{path}" for path in {**HOSTILE, **PERCENT}}


def test_manifest_paths_are_percent_encoded_as_rfc_8493_says() -> None:
    assert manifest_path("a%b\r\nc d#é") == "data/a%25b%0D%0Ac d#é"
    assert rfc_8493_decode(manifest_path("a%b\r\nc %0A")) == "data/a%b\r\nc %0A"


def test_bag_info_folds_long_text_and_names_the_organization(
    client_for, member, settings, tmp_path
):
    settings.EXPORT_ORGANIZATION = "Example Lab"
    dataset = upload_dataset(member)
    dataset.description = "First line\nsecond line: with a colon\r\nthird"
    dataset.save(update_fields=["description"])
    folder = bag_of(client_for("viewer"), dataset, tmp_path)
    bag = bagit.Bag(str(folder))
    bag.validate()
    assert bag.info["Source-Organization"] == "Example Lab"
    text = (folder / "bag-info.txt").read_text()
    assert "External-Description: First line\n second line: with a colon\n third\n" in text


def test_a_changed_stored_file_breaks_the_bag_off(lake, client_for, member, tmp_path) -> None:
    raw = upload_dataset(member)
    output = pipeline_output(member, [raw], {"a.bin": b"A" * 1000, "b.bin": b"B" * 1000})
    row = output.files.get(path="a.bin")
    store = layer_store(output.layer)
    store.delete(row.storage_key)
    store.put_bytes(row.storage_key, b"X" * 1000)  # same size, other bytes

    response = client_for("viewer").get(reverse("provenance:dataset_bagit", args=[output.pk]))
    received = bytearray()
    with pytest.raises(ZipBroken) as broken:
        for piece in response.streaming_content:
            received += piece
    cause = broken.value.__cause__
    assert isinstance(cause, ChecksumMismatch)
    assert "'a.bin'" in str(cause) and "other bytes than were sealed" in str(cause)
    assert "the BagIt bag was broken off" in str(cause)
    # Recorded as a fixity failure, found by the bag.
    assert FixityFailure.objects.filter(datafile=row, found_by="BagIt bag").count() == 1
    # The last entry says why; no directory follows, so no tool opens it as complete.
    assert b"ERROR.txt" in received and b"is not the file that was sealed" in received
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(bytes(received)))


def test_a_shorter_stored_file_breaks_the_crate_off(client_for, member) -> None:
    raw = upload_dataset(member)
    output = pipeline_output(member, [raw], {"a.bin": b"A" * 1000})
    row = output.files.get()
    store = layer_store(output.layer)
    store.delete(row.storage_key)
    store.put_bytes(row.storage_key, b"A" * 999)

    response = client_for("viewer").get(reverse("provenance:dataset_ro_crate", args=[output.pk]))
    with pytest.raises(ZipBroken) as broken:
        b"".join(response.streaming_content)
    cause = str(broken.value.__cause__)
    assert "'a.bin'" in cause and "(999 bytes read, 1,000 recorded)" in cause
    assert "the RO-Crate was broken off" in cause


def test_a_dataset_without_files_is_an_empty_valid_bag(client_for, member, tmp_path) -> None:
    dataset = sealed_dataset(member, name="Empty run", external_id="LAB-0042")
    folder = bag_of(client_for("viewer"), dataset, tmp_path)
    bag = bagit.Bag(str(folder))
    bag.validate()
    assert bag.info["Payload-Oxum"] == "0.0"
    assert bag.info["External-Identifier"] == [f"urn:uuid:{dataset.pk}", "LAB-0042"]
    assert list(bag.payload_files()) == []
