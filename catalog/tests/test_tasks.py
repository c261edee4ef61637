"""The catalog's kinds of long work, run through the job runner: how each ends when it fails.

A promotion that cannot finish leaves no half-made dataset behind: its
unsealed target is marked failed and its copies removed; a sealed one is
never undone. A registration that cannot finish marks its hidden dataset
failed with the prefix and the reason. Messages to the broker are captured
(``job_run_task.apply_async``); the tests run each job here, as a worker would.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import boto3
import pytest
from django.conf import settings as django_settings

from catalog import services
from catalog.models import DataFile, Dataset, DatasetStatus, Layer, Promotion, Source
from catalog.services.promote import promotion_on_fail
from catalog.services.register import registration_on_fail
from lakeweb.jobs import registry
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.jobs.services import job_cancel
from lakeweb.jobs.tasks import job_run_task
from lakeweb.storage import layer_store

from .factories import microscopy_form, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

# One more than a promotion's batch: the first batch is copied and recorded,
# the second fails.
MANY = {f"frames/f{n:03d}.dat": f"frame {n}".encode() for n in range(65)}
LAST = "frames/f064.dat"


@pytest.fixture
def sends(monkeypatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def apply_async(args: list[str], **options: Any) -> None:
        sent.append({"job": args[0], **options})

    monkeypatch.setattr(job_run_task, "apply_async", apply_async)
    return sent


@pytest.fixture
def hook_sees(monkeypatch) -> list[dict[str, Any]]:
    """What the promotion's target held when the failure hook began (the real hook runs)."""
    seen: list[dict[str, Any]] = []
    kind = registry.kind_get("promotion")

    def on_fail(job: Job, reason: str) -> None:
        target = Promotion.objects.get(job=job).target
        if target is not None:
            keys = list(layer_store(target.layer).list_keys(target.storage_prefix))
            seen.append({"rows": target.files.count(), "keys": len(keys)})
        promotion_on_fail(job, reason)

    monkeypatch.setitem(registry._KINDS, "promotion", dataclasses.replace(kind, on_fail=on_fail))
    return seen


def job_of(promotion: Promotion) -> Job:
    return Job.objects.get(pk=promotion.job_id)


def stored_keys(dataset: Dataset) -> list[str]:
    return list(layer_store(dataset.layer).list_keys(dataset.storage_prefix))


# --- promotion ------------------------------------------------------------------------


def test_a_promotion_failing_a_checksum_marks_its_target_failed_and_removes_its_copies(
    lake, member, settings, hook_sees, sends
) -> None:
    settings.PROMOTE_CONCURRENCY = 1  # in path order: the damaged file is copied last
    source = upload_dataset(member, files=MANY)
    # The recorded SHA-256 no longer matches the stored bytes (bit rot, or a bad record).
    DataFile.objects.filter(dataset=source, path=LAST).update(sha256="0" * 64)
    promotion = services.dataset_promote_request(dataset=source, user=member)

    job_run(job_id=promotion.job_id)

    job = job_of(promotion)
    target = Dataset.objects.get(pk=Promotion.objects.get(pk=promotion.pk).target_id)
    assert job.status == JobStatus.FAILED and job.error.startswith("ChecksumMismatch: ")
    assert "expected " + "0" * 64 in job.error
    # The first batch recorded; the damaged copy stored but never recorded.
    assert hook_sees == [{"rows": 64, "keys": 65}]
    assert target.status == DatasetStatus.FAILED and target.sealed_at is None
    assert target.failure_reason == f"Promotion failed: {job.error}"
    assert not target.files.exists() and stored_keys(target) == []
    source.refresh_from_db()
    assert source.status == DatasetStatus.READY and source.files.count() == len(MANY)
    assert sends == []  # a checksum mismatch does not pass by itself: no retry


def test_a_promotion_that_keeps_failing_is_given_up_and_its_partial_copies_removed(
    member, settings, hook_sees, sends
) -> None:
    settings.PROMOTE_CONCURRENCY = 1
    source = upload_dataset(member, files=MANY)
    DataFile.objects.filter(dataset=source, path=LAST).update(storage_key="datasets/gone.dat")
    promotion = services.dataset_promote_request(dataset=source, user=member)

    job_run(job_id=promotion.job_id)  # the store cannot read one file: that may pass
    job = job_of(promotion)
    target = Promotion.objects.get(pk=promotion.pk).target
    assert job.status == JobStatus.QUEUED and "trying again" in job.log
    assert target.status == DatasetStatus.UPLOADING and target.files.count() == 64
    assert [s["job"] for s in sends] == [str(job.pk)]

    Job.objects.filter(pk=job.pk).update(attempts=job.max_attempts, not_before=None)  # backoff over
    job_run(job_id=job.pk)

    job, target = job_of(promotion), Dataset.objects.get(pk=target.pk)
    assert job.status == JobStatus.FAILED
    assert job.error == f"gave up after {job.max_attempts} attempts; see the log for each"
    assert hook_sees == [{"rows": 64, "keys": 64}]
    assert target.status == DatasetStatus.FAILED
    assert target.failure_reason == f"Promotion failed: {job.error}"
    assert not target.files.exists() and stored_keys(target) == []


def test_a_cancelled_queued_promotion_leaves_no_target_and_can_be_asked_for_again(
    member, sends
) -> None:
    source = upload_dataset(member)
    promotion = services.dataset_promote_request(dataset=source, user=member)

    job_cancel(job=job_of(promotion), user=member)
    assert job_run(job_id=promotion.job_id) is None

    promotion.refresh_from_db()
    assert promotion.job.status == JobStatus.CANCELLED and promotion.target is None
    assert not Dataset.objects.filter(layer=Layer.PROCESSED).exists()
    again = services.dataset_promote_request(dataset=source, user=member)
    assert job_of(again).status == JobStatus.QUEUED


def test_a_promotion_whose_source_was_deleted_before_it_ran_fails_and_makes_no_target(
    member, curator, sends
) -> None:
    processed = promote_dataset(upload_dataset(member), member)
    promotion = services.dataset_promote_request(dataset=processed, user=curator)
    services.dataset_delete(dataset=processed, user=curator)

    job_run(job_id=promotion.job_id)

    job = job_of(promotion)
    assert job.status == JobStatus.FAILED
    assert job.error.endswith(f"'{processed.name}' is deleted: only ready datasets count.")
    assert Promotion.objects.get(pk=promotion.pk).target is None
    assert not Dataset.objects.filter(layer=Layer.CURATED).exists()


def test_the_promotion_hook_never_undoes_a_sealed_target(member) -> None:
    source = upload_dataset(member)
    target = promote_dataset(source, member)
    promotion = Promotion.objects.get(target=target)

    promotion_on_fail(promotion.job, "a late failure report")

    target.refresh_from_db()
    assert target.status == DatasetStatus.READY and target.failure_reason == ""
    assert target.files.count() == source.files.count() == len(stored_keys(target))


# --- registration -------------------------------------------------------------------------

OBJECTS = {"a.txt": b"first", "deeper/b.bin": bytes(range(256))}


def s3_client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=django_settings.S3_ENDPOINT_URL,
        region_name=django_settings.S3_REGION,
        aws_access_key_id=django_settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=django_settings.S3_SECRET_ACCESS_KEY,
    )


@pytest.fixture
def registration(s3_lake, member, settings) -> tuple[Dataset, Job]:
    """A registration of ``s3://<bucket>/runs/`` as a request leaves it: checked, queued."""
    bucket = f"src-{uuid.uuid4().hex[:12]}"
    settings.REGISTER_BUCKETS = [bucket]
    client = s3_client()
    client.create_bucket(Bucket=bucket)
    for key, data in OBJECTS.items():
        client.put_object(Bucket=bucket, Key=f"runs/{key}", Body=data)
    form = microscopy_form()
    draft = services.DatasetDraft(
        owner=member,
        name="Run to register",
        source=Source.objects.get(slug="instrument"),
        experiments=[{"sample": "HeLa-1", "magnification": 40, "stain": "DAPI"}],
        form_version=services.form_version_current(form=form),
    )
    dataset = services.dataset_register_start(draft=draft, prefix=f"s3://{bucket}/runs/")
    return dataset, Job.objects.get(kind="registration")


def test_a_registration_given_up_marks_its_dataset_failed_with_the_prefix_and_reason(
    registration, sends
) -> None:
    dataset, job = registration
    Job.objects.filter(pk=job.pk).update(attempts=job.max_attempts)

    job_run(job_id=job.pk)

    job = Job.objects.get(pk=job.pk)
    dataset.refresh_from_db()
    reason = f"gave up after {job.max_attempts} attempts; see the log for each"
    assert job.status == JobStatus.FAILED and job.error == reason
    assert dataset.status == DatasetStatus.FAILED and dataset.sealed_at is None
    assert dataset.failure_reason == f"Registering {job.parameters['prefix']} failed: {reason}"
    assert job.parameters["prefix"].startswith("s3://src-")
    assert not dataset.files.exists() and stored_keys(dataset) == []


def test_a_cancelled_registration_marks_its_dataset_failed_and_stores_nothing(
    registration, member, sends
) -> None:
    dataset, job = registration

    job_cancel(job=job, user=member)

    dataset.refresh_from_db()
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert dataset.status == DatasetStatus.FAILED
    assert dataset.failure_reason == (
        f"Registering {job.parameters['prefix']} failed: cancelled on request"
    )
    assert not dataset.files.exists() and stored_keys(dataset) == []


def test_the_registration_hook_leaves_a_registered_dataset_alone(registration, sends) -> None:
    dataset, job = registration
    job_run(job_id=job.pk)
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY

    registration_on_fail(Job.objects.get(pk=job.pk), "a late failure report")

    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.failure_reason == ""
    assert dataset.files.count() == len(OBJECTS) == len(stored_keys(dataset))
