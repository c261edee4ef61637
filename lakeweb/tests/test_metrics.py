"""/metrics: who may read it, and that its numbers are the lake's."""

from __future__ import annotations

import datetime
import uuid

import pytest
import redis
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backups.models import BackupJob, BackupKind
from catalog.models import Dataset
from catalog.tests.factories import promote_dataset, upload_dataset
from lakeweb.jobs.models import Job, JobStatus

pytestmark = pytest.mark.django_db

URL = "/metrics"


def samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200, response.content[:500]
    text = response.content.decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_loopback_reads_metrics_by_default(client) -> None:
    found = samples(client.get(URL))
    assert any(name.startswith("django_http_requests") for name, _labels in found)
    assert any(name.startswith("django_db_execute") for name, _labels in found)


@pytest.mark.parametrize("role", ["anonymous", "viewer", "admin"])
def test_without_the_token_others_are_refused_whoever_they_are(client_for, settings, role) -> None:
    settings.LAKEWEB_METRICS_ALLOW = []
    settings.LAKEWEB_METRICS_TOKEN = "s3cret-token"
    response = client_for(role).get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token" in response.json()["detail"]
    wrong = client_for(role).get(URL, HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 403 and "not valid" in wrong.json()["detail"]


def test_the_token_opens_it_from_anywhere(client, settings) -> None:
    settings.LAKEWEB_METRICS_ALLOW = []
    settings.LAKEWEB_METRICS_TOKEN = "s3cret-token"
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer s3cret-token", REMOTE_ADDR="192.0.2.7")
    assert samples(response)


def test_an_allowed_network_needs_no_token(client, settings) -> None:
    import ipaddress

    settings.LAKEWEB_METRICS_ALLOW = [ipaddress.ip_network("192.0.2.0/24")]
    assert client.get(URL, REMOTE_ADDR="192.0.2.7").status_code == 200
    assert client.get(URL, REMOTE_ADDR="198.51.100.1").status_code == 401


def test_datasets_and_bytes_per_layer_are_the_catalogs(client, member) -> None:
    raw = [
        upload_dataset(member, name=f"Run {n}", files={"a.txt": b"x" * (100 + n)}) for n in range(3)
    ]
    promote_dataset(raw[0], member)
    Dataset.objects.create(name="coming", owner=member, source=raw[0].source)  # not sealed yet
    found = samples(client.get(URL))
    assert found[("lakeweb_datasets", (("layer", "raw"),))] == 3
    assert found[("lakeweb_datasets", (("layer", "processed"),))] == 1
    assert found[("lakeweb_datasets", (("layer", "archive"),))] == 0
    assert found[("lakeweb_dataset_bytes", (("layer", "raw"),))] == 303
    assert found[("lakeweb_dataset_bytes", (("layer", "processed"),))] == 100
    assert found[("lakeweb_uploads_in_progress", ())] == 1


def finished_job(kind: str, status: str, seconds: float) -> Job:
    ended = timezone.now()
    return Job.objects.create(
        kind=kind,
        status=status,
        started_at=ended - datetime.timedelta(seconds=seconds),
        finished_at=ended,
    )


def test_jobs_by_kind_and_status_with_their_durations(client) -> None:
    finished_job("promotion", JobStatus.SUCCEEDED, 2)
    finished_job("promotion", JobStatus.FAILED, 400)
    Job.objects.create(kind="backup", queue="long")
    found = samples(client.get(URL))
    jobs = (("kind", "promotion"), ("status", "succeeded"))
    assert found[("lakeweb_jobs", jobs)] == 1
    assert found[("lakeweb_jobs", (("kind", "backup"), ("status", "queued")))] == 1
    assert found[("lakeweb_jobs_queued", (("queue", "long"),))] == 1
    assert found[("lakeweb_jobs_queued", (("queue", "default"),))] == 0
    bucket = "lakeweb_job_duration_seconds_bucket"
    assert found[(bucket, (("kind", "promotion"), ("le", "1.0")))] == 0
    assert found[(bucket, (("kind", "promotion"), ("le", "5.0")))] == 1
    assert found[(bucket, (("kind", "promotion"), ("le", "900.0")))] == 2
    assert found[("lakeweb_job_duration_seconds_count", (("kind", "promotion"),))] == 2
    total = found[("lakeweb_job_duration_seconds_sum", (("kind", "promotion"),))]
    assert total == pytest.approx(402, abs=0.01)


def test_the_last_backup_age_appears_once_one_succeeded(client) -> None:
    assert not [key for key in samples(client.get(URL)) if "backup" in key[0]]
    job = finished_job("backup", JobStatus.SUCCEEDED, 30)
    BackupJob.objects.create(job=job, kind=BackupKind.MANUAL)
    found = samples(client.get(URL))
    assert found[("lakeweb_last_backup_success_timestamp_seconds", ())] == pytest.approx(
        job.finished_at.timestamp()
    )
    assert 0 <= found[("lakeweb_last_backup_age_seconds", ())] < 60


def test_broker_queue_lengths_on_redis(client, settings) -> None:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        pytest.skip("the broker of this run is not Redis")
    queue = f"pipelines-{uuid.uuid4().hex[:6]}"
    settings_queues = ("default", "long", queue)
    from lakeweb.jobs import metrics

    broker = redis.Redis.from_url(url)
    broker.rpush(queue, b"a", b"b")
    try:
        original = metrics.QUEUES
        metrics.QUEUES = settings_queues  # a queue no worker of this run consumes
        found = samples(client.get(URL))
    finally:
        metrics.QUEUES = original
        broker.delete(queue)
    assert found[("lakeweb_broker_queue_length", (("queue", queue),))] == 2
