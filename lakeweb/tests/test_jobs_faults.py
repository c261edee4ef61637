"""Long work survives the failures of a real production stack (issue: one job model).

Each test breaks a real thing — a worker process SIGKILLed, a Redis broker
stopped, the line to PostgreSQL cut, a message delivered twice — and checks
that the work ends done exactly once (every file once, checksums verified,
one provenance event) or failed with a reason, with no long wait.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from catalog import services
from catalog.models import Activity, DataFile, Dataset, DatasetStatus, Promotion, ProvenanceEvent
from catalog.tests.factories import upload_dataset
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.services import job_send, jobs_sweep
from lakeweb.storage import layer_store

from .stack import LEASE, RedisServer, TcpLine, wait, worker_env, worker_stack

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

FILES = 300


@pytest.fixture
def stack(s3_lake, tmp_path: Path) -> Iterator[dict]:
    # One copy at a time: slow enough to break midway.
    with worker_stack(s3_lake, tmp_path, PROMOTE_CONCURRENCY="1") as stack:
        yield stack


def _big_raw(member) -> Dataset:
    files = {f"frames/f{n:04d}.dat": f"frame {n}".encode() * 50 for n in range(FILES)}
    return upload_dataset(member, files=files, name="Many frames")


def _job(pk) -> Job:
    return Job.objects.get(pk=pk)


def _assert_promoted_once(source: Dataset, promotion: Promotion) -> None:
    promotion = Promotion.objects.select_related("job", "target").get(pk=promotion.pk)
    assert promotion.job.status == JobStatus.SUCCEEDED, promotion.job.log
    target = promotion.target
    assert target.status == DatasetStatus.READY
    assert target.file_count == FILES == DataFile.objects.filter(dataset=target).count()
    assert target.manifest_digest == source.manifest_digest
    assert Dataset.objects.filter(layer="processed").count() == 1
    assert ProvenanceEvent.objects.filter(activity=Activity.PROMOTION).count() == 1
    keys = list(layer_store("processed").list_keys(target.storage_prefix))
    assert len(keys) == FILES


def test_a_sigkilled_worker_s_promotion_resumes_on_another_worker_and_finishes_once(
    stack, member
) -> None:
    source = _big_raw(member)
    first = stack["start"]("first")
    # Sent once, after commit, by the request itself (the job row is the outbox).
    promotion = services.dataset_promote_request(dataset=source, user=member)

    wait(lambda: 0 < _job(promotion.job_id).progress_done < FILES, 120, every=0.05)
    first.kill()
    killed_at = time.monotonic()
    assert _job(promotion.job_id).status == JobStatus.RUNNING

    stack["start"]("second")
    # The sweep (every minute under beat) finds the lapsed lease and re-queues the job.
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    wait(lambda: _job(promotion.job_id).is_finished, 120, every=0.25)
    minutes = (time.monotonic() - killed_at) / 60

    job = _job(promotion.job_id)
    assert job.attempts == 2 and "lost (lease expired)" in job.log and "resuming" in job.log
    _assert_promoted_once(source, promotion)
    assert minutes < 3


def test_a_promotion_asked_for_while_the_broker_is_down_runs_once_it_is_back(
    stack, member, api_for, settings
) -> None:
    source = upload_dataset(member)
    broker = RedisServer()
    broker.start()
    previous = os.environ.get("CELERY_BROKER_URL", settings.CELERY_BROKER_URL)
    try:
        _use_broker(broker.url)
        broker.stop()  # the broker is down when the member asks

        started = time.monotonic()
        response = api_for("member").post(
            reverse("api:dataset_promote", args=[source.pk]), {}, format="json"
        )
        took = time.monotonic() - started

        assert response.status_code == 202 and took < 10
        body = response.json()
        assert body["status"] == "queued" and "unavailable" in body["message"]
        job = _job(body["job"])
        assert job.sent_at is None
        assert jobs_sweep()["sent"] == 0  # still down: nothing sent, nothing lost

        broker.start()
        stack["start"]("worker", CELERY_BROKER_URL=broker.url)
        time.sleep(10)  # the sweep only sends what the request could not for 10 s
        assert jobs_sweep()["sent"] == 1
        wait(lambda: _job(job.pk).is_finished, 60, every=0.25)
        job = _job(job.pk)
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, job.log
    finally:
        _use_broker(previous)
        broker.stop()


def _use_broker(url: str) -> None:
    """Point this process's Celery app (what requests send with) at ``url``."""
    import kombu

    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    os.environ["CELERY_BROKER_URL"] = url
    celery_app.conf.broker_url = url
    kombu.pools.reset()  # the pools are kept per connection, process-wide
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_a_promotion_survives_postgresql_going_away_for_ten_seconds(stack, member) -> None:
    source = _big_raw(member)
    line = TcpLine(int(connection.settings_dict["PORT"] or 5432))
    line.start()
    try:
        database = worker_env(stack["s3"], stack["tmp"])["DATABASE_URL"]
        through_line = database.replace(
            f":{connection.settings_dict['PORT'] or 5432}/", f":{line.port}/"
        )
        stack["start"]("worker", DATABASE_URL=through_line)
        promotion = services.dataset_promote_request(dataset=source, user=member)
        wait(lambda: 0 < _job(promotion.job_id).progress_done < FILES, 120, every=0.05)

        line.cut(10)  # every connection of the worker dropped; new ones refused for 10 s

        wait(lambda: _job(promotion.job_id).is_finished, 180, every=0.25)
    finally:
        line.stop()
    job = _job(promotion.job_id)
    assert "OperationalError" in job.log or "InterfaceError" in job.log, job.log
    _assert_promoted_once(source, promotion)


def test_a_message_delivered_twice_runs_the_job_once(stack, member) -> None:
    source = _big_raw(member)
    stack["start"]("first")
    stack["start"]("second")
    # Sent once, after commit, by the request itself (the job row is the outbox).
    promotion = services.dataset_promote_request(dataset=source, user=member)
    wait(lambda: _job(promotion.job_id).status == JobStatus.RUNNING, 60, every=0.05)

    # What the broker does when a task outlives its visibility timeout.
    job_send(promotion.job)

    wait(lambda: _job(promotion.job_id).is_finished, 180, every=0.25)
    job = _job(promotion.job_id)
    assert job.attempts == 1, job.log
    _assert_promoted_once(source, promotion)
