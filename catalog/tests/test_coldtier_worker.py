"""The cold tier on the production stack: a real Celery worker over Redis, S3 over HTTP.

A curator promotes a dataset into archive (GLACIER) through the worker, the
owner asks for a restore on the page, the worker runs the restore job and the
periodic watch (sent as beat sends it), the owner is emailed, and the file
reads. PostgreSQL, Redis and moto in server mode; skipped with a reason where
they are not configured (CI refuses the skip).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog import services
from catalog.models import ColdRestore, Dataset, Layer, Promotion
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.storage import layer_store
from lakeweb.tests.stack import Worker, require_stack, wait, worker_env

from .factories import FILES, upload_dataset

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
README = "run1/notes/readme.txt"


@pytest.fixture
def mailbox(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def worker(settings, s3_lake, tmp_path: Path, mailbox: Path) -> Iterator[Worker]:
    """A worker on the test database, broker and buckets, with the cold tier on."""
    require_stack()
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_RESTORE_DAYS = 2  # the request records it; S3 keeps the copy that long
    celery_app.control.purge()
    env = worker_env(
        s3_lake,
        tmp_path / "worker-data",
        ARCHIVE_STORAGE_CLASS="GLACIER",
        EMAIL_URL=f"filemail:///{mailbox}",  # django-environ drops one slash
    )
    process = Worker(env, tmp_path / "worker.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _finished(job_id: object) -> Job:
    wait(lambda: Job.objects.get(pk=job_id).is_finished, 60, every=0.25)
    return Job.objects.get(pk=job_id)


def _promote(dataset: Dataset, user) -> Dataset:
    """Promoted by the worker (the request's job goes to it after commit)."""
    promotion = services.dataset_promote_request(dataset=dataset, user=user)
    assert _finished(promotion.job_id).status == JobStatus.SUCCEEDED
    promotion.refresh_from_db()
    assert promotion.target is not None
    return promotion.target


def test_restore_through_a_real_worker(worker, client_for, member, curator, mailbox) -> None:
    curated = _promote(_promote(upload_dataset(member), member), curator)
    response = client_for("curator").post(
        reverse("catalog:dataset_promote", args=[curated.pk]), {"target_layer": "archive"}
    )
    assert response.status_code == 302
    job = _finished(Promotion.objects.get(source=curated).job_id)
    assert job.status == JobStatus.SUCCEEDED, worker.log.read_text()[-3000:]
    archived = Dataset.objects.get(layer=Layer.ARCHIVE)
    assert archived.storage_class == "GLACIER"
    store = layer_store("archive")
    key = archived.files.get(path=README).storage_key
    assert store.client.head_object(Bucket=store.bucket, Key=key)["StorageClass"] == "GLACIER"

    owner = client_for("member")
    download = reverse(
        "catalog:datafile_download", args=[archived.pk, archived.files.get(path=README).pk]
    )
    assert owner.get(download).status_code == 409
    assert owner.post(reverse("catalog:dataset_restore", args=[archived.pk])).status_code == 302
    restore = ColdRestore.objects.get(dataset=archived)
    assert _finished(restore.job_id).status == JobStatus.SUCCEEDED

    celery_app.send_task("catalog.cold_restores_watch")  # as beat does
    wait(lambda: ColdRestore.objects.get(pk=restore.pk).state == "ready", 60, every=0.25)
    restore.refresh_from_db()
    assert (restore.files_ready, restore.files_total, restore.days) == (3, 3, 2)
    left = restore.expires_at - timezone.now()
    assert timedelta(days=1) < left <= timedelta(days=3)  # moto's expiry-date for 2 days
    wait(lambda: mailbox.exists() and any(mailbox.iterdir()), 30, every=0.25)
    message = "".join(path.read_text() for path in mailbox.iterdir())
    assert member.email in message and "All 3 files" in message and "until" in message

    response = owner.get(download)
    assert response.status_code == 302
    with urllib.request.urlopen(response["Location"]) as got:  # noqa: S310 - loopback moto
        assert got.read() == FILES[README]
