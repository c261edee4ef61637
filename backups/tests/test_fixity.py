"""The fixity job: the batch arithmetic, coverage within the cycle, and what it finds.

Corruption is made the way it happens (bytes changed on disk; other bytes PUT
to the key on the S3 server, moto in its own process); the next batch that
reaches the object reports it, mails the admins and records provenance.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from backups.fixity import FIXITY_KIND, fixity_plan_compute
from backups.fixity_status import fixity_coverage, fixity_request
from backups.tests.fixity_runs import run_batch
from catalog.models import Activity, DataFile, Dataset, FixityFailure, ProvenanceEvent
from catalog.tests.factories import promote_dataset, upload_dataset
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"


@pytest.fixture(autouse=True)
def one_batch_a_cycle(settings) -> None:
    """One batch takes the whole (small) lake, unless a test sets a shorter interval."""
    settings.FIXITY_CYCLE_DAYS = 14
    settings.FIXITY_INTERVAL_MINUTES = 14 * 24 * 60


def many_files(n: int) -> dict[str, bytes]:
    return {f"f/{i:03d}.dat": f"file {i}".encode() for i in range(n)}


# -- the arithmetic -----------------------------------------------------------------


def test_batch_size_covers_the_lake_within_the_cycle() -> None:
    plan = fixity_plan_compute(
        total_objects=1_000_000,
        total_bytes=10 * 1024**4,
        due=0,
        cycle_days=14,
        interval_minutes=60,
        bytes_per_hour=0,
        max_batch=200_000,
    )
    assert plan.batches_per_cycle == 336
    assert plan.batch_size == 2977  # ceil(1,000,000 / 336)
    assert plan.batch_size * plan.batches_per_cycle >= 1_000_000
    assert plan.cycle_possible and plan.warning == "" and plan.bytes_budget is None


def test_objects_near_their_deadline_enlarge_the_batch() -> None:
    plan = fixity_plan_compute(
        total_objects=1000,
        total_bytes=0,
        due=400,
        cycle_days=14,
        interval_minutes=60,
        bytes_per_hour=0,
        max_batch=200_000,
    )
    assert plan.batch_size == 400


def test_a_budget_too_small_for_the_cycle_is_said() -> None:
    plan = fixity_plan_compute(
        total_objects=1000,
        total_bytes=100 * 1024**4,  # 100 TiB
        due=0,
        cycle_days=14,
        interval_minutes=60,
        bytes_per_hour=100 * 1024**3,  # 100 GiB an hour: 1024 h, about 43 days
        max_batch=200_000,
    )
    assert not plan.cycle_possible
    assert "42.7 days, more than the 14-day cycle" in plan.warning
    assert plan.bytes_budget == 100 * 1024**3


# -- coverage -------------------------------------------------------------------------


def test_after_a_cycle_of_batches_every_object_was_verified_once(settings, member) -> None:
    settings.FIXITY_CYCLE_DAYS = 1
    settings.FIXITY_INTERVAL_MINUTES = 120  # 12 batches a cycle
    dataset = upload_dataset(member, files=many_files(30))
    taken: list[int] = []
    for _ in range(12):
        job = run_batch()
        assert job.result["batch"] == 3 == job.result["verified"]  # ceil(30 / 12)
        taken += job.parameters["batch"]
    files = set(dataset.files.values_list("pk", flat=True))
    # 36 taken for 30 files: the first 30 are each file once, then the oldest again
    assert set(taken[:30]) == files and len(set(taken[:30])) == 30
    assert taken[30:] == taken[:6]
    assert not DataFile.objects.filter(verified_at__isnull=True).exists()
    assert fixity_coverage()["percent"] == 100.0


def sealed_long_ago(dataset) -> None:
    """Sealed 30 days ago, never verified: every file past its deadline, due now."""
    Dataset.objects.filter(pk=dataset.pk).update(sealed_at=timezone.now() - timedelta(days=30))


def test_the_byte_budget_limits_a_batch(settings, member) -> None:
    settings.FIXITY_CYCLE_DAYS, settings.FIXITY_INTERVAL_MINUTES = 1, 60
    settings.FIXITY_BYTES_PER_HOUR = 15  # each file is 6 bytes: two a batch
    sealed_long_ago(upload_dataset(member, files=many_files(10)))
    job = run_batch()
    assert job.result["plan"]["batch_size"] == 10  # all due: the budget is what stops it
    assert job.result["batch"] == 2 and job.result["bytes"] == 12
    assert "warning" not in job.log


def test_a_budget_that_cannot_hold_the_cycle_is_logged_and_shown(settings, member) -> None:
    settings.FIXITY_CYCLE_DAYS, settings.FIXITY_INTERVAL_MINUTES = 1, 60
    settings.FIXITY_BYTES_PER_HOUR = 1  # 24 bytes a cycle for a 60-byte lake
    sealed_long_ago(upload_dataset(member, files=many_files(10)))
    job = run_batch()
    assert job.result["batch"] == 1  # always one object, budget or not
    assert "warning: FIXITY_BYTES_PER_HOUR (1) reads the lake's 60 bytes" in job.log
    coverage = fixity_coverage()
    assert not coverage["plan"]["cycle_possible"] and "2.5 days" in coverage["plan"]["warning"]


def test_one_batch_at_a_time_and_the_next_once_it_ended(member) -> None:
    first = fixity_request(kind=FIXITY_KIND, user=None)
    assert fixity_request(kind=FIXITY_KIND, user=None).pk == first.pk
    assert Job.objects.filter(kind=FIXITY_KIND).count() == 1
    job_run(job_id=first.pk)
    assert run_batch().pk != first.pk


# -- what it finds --------------------------------------------------------------------


def test_bytes_changed_on_disk_are_reported_mailed_and_recorded(
    filesystem_lake: Path, users, member, django_capture_on_commit_callbacks
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    target = filesystem_lake / "raw" / datafile.storage_key
    target.write_bytes(b"X" + target.read_bytes()[1:])

    with django_capture_on_commit_callbacks(execute=True):
        job = run_batch()

    failure = FixityFailure.objects.get()
    assert (failure.kind, failure.found_by, failure.datafile_id) == (
        "mismatch",
        "fixity",
        datafile.pk,
    )
    assert job.result["failures"] == 1 and job.result["verified"] == dataset.file_count - 1
    assert len(mail.outbox) == 1 and "admin@lab.example" in mail.outbox[0].to
    event = ProvenanceEvent.objects.get(activity=Activity.VERIFICATION)
    assert event.dataset_id == dataset.pk and event.parameters["kind"] == "mismatch"
    datafile.refresh_from_db()
    assert datafile.verified_at is None  # not verified: it failed


def test_a_missing_object_is_reported(filesystem_lake: Path, users, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    layer_store("raw").delete(datafile.storage_key)
    run_batch()
    assert FixityFailure.objects.get().kind == "missing"


def test_restored_bytes_close_the_failure(filesystem_lake: Path, users, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    target = filesystem_lake / "raw" / datafile.storage_key
    good = target.read_bytes()
    target.write_bytes(b"X" + good[1:])
    run_batch()
    target.write_bytes(good)
    run_batch()  # the failed file is again among the least recently verified
    assert FixityFailure.objects.get().resolved_at is not None


def test_a_put_over_a_raw_key_on_s3_is_reported_and_the_sealed_version_still_served(
    s3_lake, users, member
) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    store = layer_store("raw")
    store.client.put_object(
        Bucket=store.bucket, Key=datafile.storage_key, Body=b"other", ChecksumAlgorithm="SHA256"
    )
    run_batch()
    failure = FixityFailure.objects.get()
    assert failure.kind == "overwritten" and failure.datafile_id == datafile.pk
    datafile.refresh_from_db()
    assert datafile.verified_at is not None  # the sealed version itself is intact


def test_bytes_put_over_an_unversioned_s3_key_are_a_mismatch(s3_lake, users, member) -> None:
    processed = promote_dataset(upload_dataset(member), member)
    datafile = processed.files.get(path=PATH)
    store = layer_store("processed")
    store.client.put_object(Bucket=store.bucket, Key=datafile.storage_key, Body=b"other")
    run_batch()
    failure = FixityFailure.objects.get()
    assert failure.kind == "mismatch" and failure.dataset_id == processed.pk


def test_an_intact_raw_file_on_s3_is_verified_with_one_get_and_no_head(
    s3_lake, users, member
) -> None:
    dataset = upload_dataset(member)
    store = layer_store("raw")
    calls: list[str] = []
    for name in ("GetObject", "HeadObject"):
        store.client.meta.events.register(
            f"before-call.s3.{name}", lambda model, **_: calls.append(model.name)
        )

    job = run_batch()

    assert job.status == JobStatus.SUCCEEDED and job.result["verified"] == dataset.file_count
    assert calls == ["GetObject"] * dataset.file_count
    assert not FixityFailure.objects.exists()
    assert all(f.version_id for f in dataset.files.all())  # raw keeps versions on S3
