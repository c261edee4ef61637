"""A fixity batch survives its worker being SIGKILLed: it completes once, on another worker.

PostgreSQL, Redis and real Celery worker processes; S3 on the moto server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backups.fixity import FIXITY_KIND
from backups.fixity_status import fixity_request
from catalog.models import DataFile, FixityFailure
from catalog.tests.factories import upload_dataset
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.services import jobs_sweep
from lakeweb.tests.stack import Worker, require_stack, wait, worker_env

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FILES = 300
LEASE = 4


@pytest.fixture
def stack(s3_lake, tmp_path: Path) -> Iterator[dict]:
    require_stack()
    celery_app.control.purge()
    workers: list[Worker] = []

    def start(name: str) -> Worker:
        env = worker_env(
            s3_lake,
            tmp_path / f"{name}-data",
            JOBS_LEASE_SECONDS=str(LEASE),
            JOBS_RETRY_BACKOFF="1",
            FIXITY_CONCURRENCY="1",  # one read at a time: slow enough to break midway
            FIXITY_CYCLE_DAYS="14",
            FIXITY_INTERVAL_MINUTES=str(14 * 24 * 60),  # one batch takes the whole lake
        )
        worker = Worker(env, tmp_path / f"{name}.log")
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield {"start": start}
    for worker in workers:
        worker.stop()
    celery_app.control.purge()


def verified() -> int:
    return DataFile.objects.filter(verified_at__isnull=False).count()


def test_a_sigkilled_worker_s_fixity_batch_completes_once_on_another_worker(
    stack, settings, member
) -> None:
    settings.FIXITY_INTERVAL_MINUTES = 14 * 24 * 60
    files = {f"frames/f{n:04d}.dat": f"frame {n}".encode() * 50 for n in range(FILES)}
    upload_dataset(member, files=files, name="Many frames")
    first = stack["start"]("first")
    job = fixity_request(kind=FIXITY_KIND, user=None)  # sent after commit

    wait(lambda: 0 < verified() < FILES, 120, every=0.02)
    first.kill()
    killed_at = time.monotonic()
    before = dict(
        DataFile.objects.filter(verified_at__isnull=False).values_list("pk", "verified_at")
    )
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING

    stack["start"]("second")
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    wait(lambda: Job.objects.get(pk=job.pk).is_finished, 120, every=0.25)

    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.log + job.error
    assert job.attempts == 2 and "lost (lease expired)" in job.log
    assert f"resuming: {len(before)} files verified by an earlier attempt" in job.log
    assert len(job.parameters["batch"]) == FILES == job.result["verified"]
    assert verified() == FILES and not FixityFailure.objects.exists()
    # What the killed worker verified was not verified again.
    after = dict(DataFile.objects.filter(pk__in=list(before)).values_list("pk", "verified_at"))
    assert after == before
    assert (time.monotonic() - killed_at) / 60 < 3
