"""A dataset as a BagIt bag (RFC 8493) in a zip, streamed.

The zip holds one folder, ``<name>-<layer>/``, with ``bagit.txt``,
``bag-info.txt`` (the dataset's identity and metadata), ``manifest-sha256.txt``
(the SHA-256 recorded for each file when it was stored), the files under
``data/``, and last ``tagmanifest-sha256.txt`` (the digests of the tag files,
taken as they were sent). Each file is hashed as it streams and a mismatch
with the manifest raises ``ChecksumMismatch``, which ends the download before
the zip's directory: never a bag that says one thing and holds another.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from django.utils import timezone

from catalog.models import Dataset, DatasetStatus
from catalog.selectors.archive import (
    ZipMember,
    dataset_date_time,
    dataset_zip_filename,
    dataset_zip_members,
    zip_stream,
)

from .metadata import export_settings, metadata_items, person_name
from .streams import GeneratedFile, as_stream

ROWS_PER_BATCH = 500
TAG_FILES = ("bagit.txt", "bag-info.txt", "manifest-sha256.txt")
# RFC 8493 §2.1.3: in a manifest, CR, LF and "%" (those only) are percent-encoded.
MANIFEST_ESCAPES = {"%": "%25", "\r": "%0D", "\n": "%0A"}
LABEL_UNSAFE = re.compile(r"[\s:]+")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def dataset_bag(*, dataset: Dataset) -> Iterator[bytes]:
    """The dataset as a zipped BagIt bag, made while it is sent; only for a ready dataset."""
    if dataset.status != DatasetStatus.READY:
        raise ValueError("only a ready dataset can be exported")
    return zip_stream(_members(dataset))


def bag_folder(*, dataset: Dataset) -> str:
    """The bag's folder in the zip: the zip download's name without ``.zip``."""
    return dataset_zip_filename(dataset=dataset).removesuffix(".zip")


def manifest_path(path: str) -> str:
    """A payload path as a manifest line writes it (RFC 8493 §2.1.3)."""
    return "data/" + "".join(MANIFEST_ESCAPES.get(char, char) for char in path)


def bag_info(*, dataset: Dataset) -> str:
    """``bag-info.txt``: the reserved labels lakeweb knows, then the metadata, one value a line."""
    lines = [
        ("Bagging-Date", timezone.localdate().isoformat()),
        ("Payload-Oxum", f"{dataset.total_size}.{dataset.file_count}"),
        ("External-Identifier", f"urn:uuid:{dataset.pk}"),
    ]
    if dataset.external_id:
        lines.append(("External-Identifier", dataset.external_id))
    if export_settings().organization:
        lines.append(("Source-Organization", export_settings().organization))
    if dataset.description:
        lines.append(("External-Description", dataset.description))
    lines += [
        ("Bag-Software-Agent", "lakeweb"),
        ("Lakeweb-Name", dataset.name),
        ("Lakeweb-Layer", dataset.layer),
        ("Lakeweb-Owner", person_name(dataset.owner)),
        ("Lakeweb-Manifest-SHA256", dataset.manifest_digest),
        *[("Lakeweb-Tag", tag.name) for tag in dataset.tags.all()],
        *[("Metadata-" + _label(item.key), item.text) for item in metadata_items(dataset)],
    ]
    return "".join(f"{label}: {_value(value)}\n" for label, value in lines if value != "")


def _label(key: str) -> str:
    return LABEL_UNSAFE.sub("-", key).strip("-") or "value"


def _value(value: Any) -> str:
    # A value spanning lines continues on lines that begin with a space (RFC 8493 §2.2.2).
    text = CONTROL.sub(" ", str(value).replace("\r\n", "\n").replace("\r", "\n"))
    return "\n ".join(text.split("\n"))


def _manifest(dataset: Dataset) -> Iterator[str]:
    rows = dataset.files.order_by("path").values_list("path", "sha256")
    for path, sha256 in rows.iterator(chunk_size=ROWS_PER_BATCH):
        yield f"{sha256}  {manifest_path(path)}\n"


def _members(dataset: Dataset) -> Iterator[ZipMember]:
    folder, date_time = bag_folder(dataset=dataset), dataset_date_time(dataset)
    digests: dict[str, str] = {}

    def tag(name: str, pieces: Any, size: int) -> ZipMember:
        def keep(digest: str) -> None:
            digests[name] = digest

        return ZipMember(
            f"{folder}/{name}",
            size,
            date_time,
            lambda: as_stream(GeneratedFile(pieces(), on_close=keep)),
        )

    yield tag("bagit.txt", lambda: ["BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"], 64)
    yield tag("bag-info.txt", lambda: [bag_info(dataset=dataset)], 1 << 20)
    # Announced, not exact: zipfile only needs to know whether zip64 is due.
    yield tag("manifest-sha256.txt", lambda: _manifest(dataset), 4096 + dataset.file_count * 4096)
    # A bag must have data/ even with no payload: its entry says so to unzip tools.
    yield ZipMember(f"{folder}/data/", 0, date_time, lambda: io.BytesIO(b""))
    yield from dataset_zip_members(dataset=dataset, prefix=f"{folder}/data/", found_by="BagIt bag")
    yield tag("tagmanifest-sha256.txt", lambda: [_tagmanifest(digests)], 1024)


def _tagmanifest(digests: dict[str, str]) -> str:
    missing = [name for name in TAG_FILES if name not in digests]
    if missing:  # a tag file was not read to its end: the archive is broken anyway
        raise RuntimeError(f"tag files not streamed whole: {', '.join(missing)}")
    return "".join(f"{digests[name]}  {name}\n" for name in TAG_FILES)
