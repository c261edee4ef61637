from __future__ import annotations

import hashlib
import io

import pytest
from django.core.exceptions import ValidationError

from catalog import services
from catalog.models import DataFile, Dataset, DatasetStatus, JobStatus, Promotion, Source
from conftest import read_object
from lakeweb.storage import layer_store
from provenance.models import Activity, ProvenanceEvent

from .factories import FILES, microscopy_form, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db


def test_upload_stores_every_file_with_its_sha256(lake: str, member) -> None:
    dataset = upload_dataset(member)

    assert dataset.status == DatasetStatus.READY and dataset.sealed_at is not None
    assert dataset.file_count == 3
    assert dataset.total_size == sum(len(data) for data in FILES.values())
    for datafile in dataset.files.all():
        data = FILES[datafile.path]
        assert datafile.sha256 == hashlib.sha256(data).hexdigest()
        assert read_object("raw", datafile.storage_key) == data


def test_upload_records_collection_provenance_and_mandatory_metadata(member) -> None:
    dataset = upload_dataset(member)

    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.COLLECTION and event.actor == member
    assert dataset.metadata["source"] == "upload"
    assert dataset.metadata["version"] == "1"
    assert dataset.metadata["date"]
    assert dataset.metadata["experiments"] == [
        {"sample": "HeLa-1", "magnification": 40, "stain": "DAPI"}
    ]


def test_manifest_digest_matches_sha256sum_of_the_files(member) -> None:
    dataset = upload_dataset(member)
    lines = "".join(
        f"{hashlib.sha256(FILES[p]).hexdigest()}  {p}\n" for p in sorted(FILES)
    ).encode()
    assert dataset.manifest_digest == hashlib.sha256(lines).hexdigest()


def _attempt_upload(owner, paths: list[str], experiment: dict | None = None):
    form = microscopy_form()
    draft = services.DatasetDraft(
        owner=owner,
        name="bad",
        source=Source.objects.get(slug="upload"),
        experiments=[experiment or {"sample": "x"}],
        form_version=services.form_version_current(form=form),
    )
    items = [services.UploadedItem(path=p, stream=io.BytesIO(b"data")) for p in paths]
    return services.dataset_upload(draft=draft, items=items)


@pytest.mark.parametrize(
    "paths, message",
    [
        (["../escape.txt"], "'..'"),
        (["/etc/passwd"], "absolute path"),
        (["ok.txt", "ok.txt"], "appears twice"),
        (["nul\x00.txt"], "control characters"),
        ([], "no files"),
    ],
)
def test_bad_paths_are_refused_and_nothing_is_stored(
    lake: str, member, paths: list[str], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        _attempt_upload(member, paths)

    assert message in " ".join(info.value.messages)
    assert not Dataset.objects.exists() and not DataFile.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_invalid_metadata_is_refused_and_nothing_is_stored(lake: str, member) -> None:
    with pytest.raises(ValidationError) as info:
        _attempt_upload(member, ["a.txt"], {"sample": "", "magnification": "5000"})

    text = " ".join(info.value.messages)
    assert "Sample name: This field is required." in text
    assert "Magnification: Ensure this value is less than or equal to 1000." in text
    assert not Dataset.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_viewer_cannot_upload(viewer) -> None:
    with pytest.raises(services.PermissionRefused):
        _attempt_upload(viewer, ["a.txt"])
    assert not Dataset.objects.exists()


def test_promotion_copies_verifies_and_records_provenance(lake: str, member) -> None:
    source = upload_dataset(member)
    promotion = services.dataset_promote_request(dataset=source, user=member)

    services.promotion_run(promotion_id=str(promotion.pk))

    promotion.refresh_from_db()
    target = promotion.target
    assert promotion.status == JobStatus.SUCCEEDED
    assert target.layer == "processed" and target.status == DatasetStatus.READY
    assert target.manifest_digest == source.manifest_digest
    for datafile in target.files.all():
        assert read_object("processed", datafile.storage_key) == FILES[datafile.path]
    event = ProvenanceEvent.objects.get(dataset=target)
    assert event.activity == Activity.PROMOTION
    assert list(event.used.all()) == [source]
    assert (event.source_layer, event.target_layer) == ("raw", "processed")
    # the source stays untouched
    for datafile in source.files.all():
        assert read_object("raw", datafile.storage_key) == FILES[datafile.path]


def test_promotion_run_twice_does_nothing_twice(member) -> None:
    source = upload_dataset(member)
    promotion = services.dataset_promote_request(dataset=source, user=member)
    services.promotion_run(promotion_id=str(promotion.pk))

    assert services.promotion_run(promotion_id=str(promotion.pk)) is None
    assert Dataset.objects.filter(layer="processed").count() == 1
    assert ProvenanceEvent.objects.filter(activity=Activity.PROMOTION).count() == 1


def test_promotion_resumes_after_a_crash_midway(member) -> None:
    source = upload_dataset(member)
    promotion = services.dataset_promote_request(dataset=source, user=member)
    # A worker died after the first file: the job is "running" with one copy made.
    claimed = services.promote._promotion_claim(str(promotion.pk))
    services.promote._copy_file(claimed, source.files.order_by("path").first())

    services.promotion_run(promotion_id=str(promotion.pk))

    promotion.refresh_from_db()
    assert promotion.status == JobStatus.SUCCEEDED
    assert promotion.target.file_count == 3


def test_promotion_detects_a_corrupted_copy(member) -> None:
    source = upload_dataset(member)
    first = source.files.order_by("path").first()
    first.sha256 = "0" * 64  # what the catalog recorded no longer matches the bytes
    first.save()
    promotion = services.dataset_promote_request(dataset=source, user=member)

    with pytest.raises(services.ChecksumMismatch):
        services.promotion_run(promotion_id=str(promotion.pk))


@pytest.mark.parametrize("target", ["curated", "archive", "raw", "nowhere"])
def test_promotion_to_a_non_adjacent_layer_is_refused(member, target: str) -> None:
    source = upload_dataset(member)

    with pytest.raises(services.ActionRefused) as info:
        services.dataset_promote_request(dataset=source, user=member, target_layer=target)

    assert "layer" in str(info.value)
    assert not Promotion.objects.exists()


def test_member_cannot_promote_beyond_processed(member, curator) -> None:
    processed = promote_dataset(upload_dataset(member), member)

    with pytest.raises(services.PermissionRefused):
        services.dataset_promote_request(dataset=processed, user=member)
    assert (
        services.dataset_promote_request(dataset=processed, user=curator).target_layer == "curated"
    )


def test_promoting_twice_is_refused(member) -> None:
    source = upload_dataset(member)
    services.dataset_promote_request(dataset=source, user=member)

    with pytest.raises(services.ActionRefused, match="already promoted"):
        services.dataset_promote_request(dataset=source, user=member)
    assert Promotion.objects.count() == 1


def test_raw_dataset_cannot_be_deleted(lake: str, member, curator, users) -> None:
    dataset = upload_dataset(member)

    with pytest.raises(services.ActionRefused, match="never be deleted"):
        services.dataset_delete(dataset=dataset, user=users["admin"])

    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.files.count() == 3
    for datafile in dataset.files.all():
        assert read_object("raw", datafile.storage_key) == FILES[datafile.path]


def test_curator_deletes_a_processed_dataset(member, curator) -> None:
    processed = promote_dataset(upload_dataset(member), member)

    with pytest.raises(services.PermissionRefused):
        services.dataset_delete(dataset=processed, user=member)
    services.dataset_delete(dataset=processed, user=curator)

    processed.refresh_from_db()
    assert processed.status == DatasetStatus.DELETED
    assert list(layer_store("processed").list_keys(processed.storage_prefix)) == []
