from __future__ import annotations

import hashlib
import io
import socket

import pytest
from django.core.exceptions import ValidationError

from catalog import services
from catalog.models import (
    Activity,
    DataFile,
    Dataset,
    DatasetStatus,
    Promotion,
    ProvenanceEvent,
    Source,
)
from conftest import read_object
from lakeweb.jobs import runner
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store

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

    job_run(job_id=promotion.job_id)

    promotion.refresh_from_db()
    promotion.job.refresh_from_db()
    target = promotion.target
    assert promotion.status == JobStatus.SUCCEEDED
    assert promotion.job.result["target"] == str(target.pk)
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
    job_run(job_id=promotion.job_id)

    assert job_run(job_id=promotion.job_id) is None
    assert Dataset.objects.filter(layer="processed").count() == 1
    assert ProvenanceEvent.objects.filter(activity=Activity.PROMOTION).count() == 1


def test_promotion_resumes_after_a_worker_died_midway(member) -> None:
    source = upload_dataset(member)
    promotion = services.dataset_promote_request(dataset=source, user=member)
    # A worker (a process of this machine that no longer exists) claimed the
    # job, made the target and copied one file, then died.
    dead = f"{socket.gethostname()}:{2**22 + 17}:gone"
    runner._claim(promotion.job_id, dead)
    promotion = services.promote._target_ensure(promotion.job)
    first = source.files.order_by("path").first()
    layer_store("raw").copy_to(
        first.storage_key, layer_store("processed"), promotion.target.storage_prefix + first.path
    )
    DataFile.objects.create(
        dataset=promotion.target,
        path=first.path,
        folder=first.folder,
        size=first.size,
        sha256=first.sha256,
        storage_key=promotion.target.storage_prefix + first.path,
    )

    job_run(job_id=promotion.job_id)

    job = Job.objects.get(pk=promotion.job_id)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert "was lost" in job.log and "attempt 2 of" in job.log
    promotion.target.refresh_from_db()
    assert promotion.target.file_count == 3
    assert Dataset.objects.filter(layer="processed").count() == 1


def test_promotion_with_a_corrupted_copy_fails_with_the_file_named(member) -> None:
    source = upload_dataset(member)
    first = source.files.order_by("path").first()
    first.sha256 = "0" * 64  # what the catalog recorded no longer matches the bytes
    first.save()
    promotion = services.dataset_promote_request(dataset=source, user=member)

    job_run(job_id=promotion.job_id)

    job = Job.objects.get(pk=promotion.job_id)
    assert job.status == JobStatus.FAILED and job.attempts == 1  # not retried: it cannot pass
    assert "ChecksumMismatch" in job.error and first.storage_key in job.error
    promotion.refresh_from_db()
    assert promotion.target.status == DatasetStatus.FAILED
    assert list(layer_store("processed").list_keys(promotion.target.storage_prefix)) == []
    # A failed promotion may be asked for again.
    again = services.dataset_promote_request(dataset=source, user=member)
    assert again.pk != promotion.pk


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
