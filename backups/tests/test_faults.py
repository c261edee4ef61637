"""Backups and restores on the production stack: PostgreSQL, Redis, real Celery workers and
S3 over HTTP in another process. A whole lake is backed up and restored into an empty
instance; workers are SIGKILLed mid-snapshot and mid-restore; the backup store goes away."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from backups.models import BackupJob, BackupKind, Blob
from backups.services import backup_request, blob_key, restore_request
from backups.services.retention import retention_request
from catalog.models import Activity, DataFile, Dataset, DatasetStatus, ProvenanceEvent
from catalog.services import dataset_delete
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import _free_port
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.jobs.services import jobs_sweep
from lakeweb.storage import layer_store
from lakeweb.storage.backupstore import backup_store
from lakeweb.tests.stack import LEASE, Worker, wait, worker_stack

from .test_restore import lake_bytes, lake_state, lake_wipe

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FILES = 600


@pytest.fixture
def stack(s3_lake, tmp_path: Path) -> Iterator[dict]:
    # One copy at a time: slow enough to break midway.
    with worker_stack(s3_lake, tmp_path, BACKUP_CONCURRENCY="1") as stack:
        yield stack


def _job(pk) -> Job:
    return Job.objects.get(pk=pk)


def _finished(pk, seconds: float = 180) -> Job:
    wait(lambda: _job(pk).is_finished, seconds, every=0.25)
    return _job(pk)


def _many_files(member) -> Dataset:
    files = {f"frames/f{n:04d}.dat": f"frame {n}".encode() * 50 for n in range(FILES)}
    return upload_dataset(member, files=files, name="Many frames")


def _kill_midway(worker: Worker, job_id) -> None:
    """SIGKILL the worker once the job is under way, then let a second one take it over."""
    wait(
        lambda: 0 < _job(job_id).progress_done < (_job(job_id).progress_total or 0), 120, every=0.02
    )
    worker.kill()
    assert _job(job_id).status == JobStatus.RUNNING


def test_a_whole_lake_backed_up_by_a_worker_comes_back_into_an_empty_instance(
    stack, member, curator
) -> None:
    raw = upload_dataset(member, name="A")
    promote_dataset(promote_dataset(raw, member), curator)  # run here, before any worker
    upload_dataset(curator, files={"b/readme.txt": b"B" * 5000}, name="B")
    before, payload = lake_state(), lake_bytes()
    stack["start"]("worker")

    backup = backup_request(kind=BackupKind.MANUAL, user=curator)
    job = _finished(backup.job_id)
    assert job.status == JobStatus.SUCCEEDED, job.log
    backup.refresh_from_db()
    # Three copies of A's files, one blob each: one copy of each file's bytes.
    distinct = {f.sha256 for f in DataFile.objects.all()}
    assert len(list(backup_store().list_keys("blobs/"))) == len(distinct)

    lake_wipe()
    restore = restore_request(snapshot=backup.prefix, into_empty=True, user=None)
    job = _finished(restore.pk)

    assert job.status == JobStatus.SUCCEEDED, job.log
    assert lake_state() == before
    assert lake_bytes() == payload
    assert ProvenanceEvent.objects.filter(activity=Activity.RESTORE).count() == 4
    # Raw came back under the raw bucket's Object Lock retention.
    store = layer_store("raw")
    key = DataFile.objects.filter(dataset__layer="raw").first().storage_key
    head = store.client.head_object(Bucket=store.bucket, Key=key)
    assert head["ObjectLockMode"] == "GOVERNANCE" and head["ObjectLockRetainUntilDate"]


def test_a_snapshot_whose_worker_is_sigkilled_midway_completes_once_on_another(
    stack, member
) -> None:
    _many_files(member)
    first = stack["start"]("first")
    backup = backup_request(kind=BackupKind.MANUAL, user=None)
    _kill_midway(first, backup.job_id)

    stack["start"]("second")
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    job = _finished(backup.job_id)

    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.log
    backup = BackupJob.objects.get(pk=backup.pk)
    assert backup.complete and backup.object_count == FILES
    assert backup.bytes_copied < sum(f.size for f in DataFile.objects.all())  # resumed
    assert len(list(backup_store().list_keys("blobs/"))) == FILES
    with backup_store().open(backup.prefix + "manifest.json") as stream:
        assert len(json.load(stream)["datasets"][0]["files"]) == FILES
    assert ProvenanceEvent.objects.filter(activity=Activity.BACKUP).count() == 1


def test_a_restore_whose_worker_is_sigkilled_midway_completes_once_on_another(
    stack, member, curator
) -> None:
    processed = promote_dataset(_many_files(member), member)
    first = stack["start"]("first")
    backup = backup_request(kind=BackupKind.MANUAL, user=None)
    assert _finished(backup.job_id).status == JobStatus.SUCCEEDED
    dataset_delete(dataset=processed, user=curator)
    restore = restore_request(
        snapshot=BackupJob.objects.get(pk=backup.pk).prefix,
        dataset_ids=[str(processed.pk)],
        user=curator,
    )
    _kill_midway(first, restore.pk)

    stack["start"]("second")
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    job = _finished(restore.pk)

    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.log
    back = Dataset.objects.get(pk=processed.pk)
    assert back.status == DatasetStatus.READY and back.files.count() == FILES
    keys = list(layer_store("processed").list_keys(back.storage_prefix))
    assert len(keys) == FILES
    assert back.provenance_events.filter(activity=Activity.RESTORE).count() == 1


def _blob_shas() -> set[str]:
    return {key.rsplit("/", 1)[-1] for key in backup_store().list_keys("blobs/")}


def test_a_gc_pass_whose_worker_is_sigkilled_midway_completes_once_on_another(
    stack, member
) -> None:
    upload_dataset(member)
    kept = backup_request(kind=BackupKind.MANUAL, user=None)
    job_run(job_id=kept.job_id)  # here: a manual snapshot, which retention always keeps
    kept.refresh_from_db()
    named = _blob_shas()
    orphans = {hashlib.sha256(f"orphan {n}".encode()).hexdigest() for n in range(FILES)}
    for sha in orphans:  # blobs no snapshot names any more
        backup_store().put_bytes(blob_key(sha), b"orphan")
    Blob.objects.bulk_create(
        [Blob(sha256=sha, size=6, last_used_at=timezone.now()) for sha in orphans]
    )
    # Every blob past the grace window: only the kept snapshot's manifest protects its own.
    Blob.objects.update(last_used_at=timezone.now() - datetime.timedelta(days=30))
    first = stack["start"]("first")
    gc = retention_request(user=None)
    assert gc is not None
    _kill_midway(first, gc.pk)
    # What the second worker will find: the orphans the first left, and their rows.
    left, rows_left = _blob_shas() & orphans, set(Blob.objects.values_list("sha256", flat=True))
    assert 0 < len(left) < FILES

    stack["start"]("second")
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    job = _finished(gc.pk)

    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.log
    # Every blob the kept snapshot names is there, and nothing else: no orphan, no row astray.
    assert _blob_shas() == named
    assert set(Blob.objects.values_list("sha256", flat=True)) == named
    # The second pass removed exactly what the first had left: nothing twice.
    assert job.result["blobs_removed"] == len(left)
    assert job.result["blobs_kept"] == len(named)
    assert job.result["rows_forgotten"] == len(rows_left - named - left)  # a delete cut short
    assert backup_store().exists(kept.prefix + "manifest.json")


def test_an_unreachable_backup_store_fails_with_a_reason_and_the_next_run_completes(
    stack, member
) -> None:
    upload_dataset(member)
    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    stack["start"](
        "cut-off", BACKUP_S3_ENDPOINT_URL=closed, S3_MAX_ATTEMPTS="1", S3_CONNECT_TIMEOUT="1"
    )
    failing = backup_request(kind=BackupKind.MANUAL, user=None)
    job = _finished(failing.job_id, 120)

    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert "backup store cannot be reached" in job.error or "Could not connect" in job.error
    assert closed.split("//")[1] in job.error, job.error
    failing.refresh_from_db()
    assert not failing.complete and failing.errors == [job.error]

    stack["start"]("reconnected")
    started = time.monotonic()
    next_run = backup_request(kind=BackupKind.MANUAL, user=None)
    job = _finished(next_run.job_id, 120)
    assert job.status == JobStatus.SUCCEEDED and time.monotonic() - started < 120, job.log
