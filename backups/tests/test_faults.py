"""Backups and restores on the production stack: PostgreSQL, Redis, real Celery workers and
S3 over HTTP in another process. A whole lake is backed up and restored into an empty
instance; workers are SIGKILLed mid-snapshot and mid-restore; the backup store goes away."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.models import BackupJob, BackupKind
from backups.services import backup_request, restore_request
from catalog.models import Activity, DataFile, Dataset, DatasetStatus, ProvenanceEvent
from catalog.services import dataset_delete
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import _free_port
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.services import jobs_sweep
from lakeweb.storage import layer_store
from lakeweb.storage.backupstore import backup_store
from lakeweb.tests.stack import Worker, require_stack, wait, worker_env

from .test_restore import lake_bytes, lake_state, lake_wipe

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FILES = 600
LEASE = 4


@pytest.fixture
def stack(s3_lake, tmp_path: Path) -> Iterator[dict]:
    require_stack()
    celery_app.control.purge()
    workers: list[Worker] = []

    def start(name: str, **env: str) -> Worker:
        worker = Worker(
            worker_env(
                s3_lake,
                tmp_path / f"{name}-data",
                JOBS_LEASE_SECONDS=str(LEASE),
                JOBS_RETRY_BACKOFF="1",
                BACKUP_CONCURRENCY="1",  # one copy at a time: slow enough to break midway
                **env,
            ),
            tmp_path / f"{name}.log",
        )
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield {"start": start, "s3": s3_lake}
    for worker in workers:
        worker.stop()
    celery_app.control.purge()


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
