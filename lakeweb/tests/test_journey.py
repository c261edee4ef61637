"""The whole lakeweb journey on the production stack.

Upload a folder through the real page, browse it, promote it through a real
Celery worker (a separate process) over Redis, and back the lake up: against
PostgreSQL, Redis and S3 over HTTP. Skipped with a reason where those are not
configured; CI sets them and refuses the skip.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from backups.models import BackupJob
from catalog.models import Dataset, Promotion
from catalog.tests.factories import microscopy_form
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import JobStatus
from lakeweb.storage import layer_store

from .stack import Worker, require_stack, wait, worker_env

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TREE = {
    "session 1/raw/frame_0001.tif": os.urandom(300_000),
    "session 1/raw/frame_0002.tif": os.urandom(300_000),
    "session 1/métadonnées.json": json.dumps({"objective": "40x"}).encode(),
    "session 1/empty.log": b"",
}


@pytest.fixture
def worker(s3_lake, tmp_path: Path) -> Iterator[Worker]:
    """A Celery worker process on the test database, the Redis broker and the S3 buckets."""
    require_stack()
    celery_app.control.purge()
    process = Worker(worker_env(s3_lake, tmp_path / "worker-data"), tmp_path / "worker.log")
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def _wait(done: Callable[[], bool], seconds: float) -> None:
    wait(done, seconds, every=0.25)


def _s3_bytes(layer: str, key: str) -> bytes:
    store = layer_store(layer)
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


def _backup_bytes(key: str) -> bytes:
    from lakeweb.storage.backupstore import backup_store

    with backup_store().open(key) as stream:
        return stream.read()


def test_upload_browse_promote_backup(worker, client_for) -> None:
    form = microscopy_form()

    # 1. A member uploads a folder through the page.
    member = client_for("member")
    response = member.post(
        reverse("catalog:upload", args=[form.pk]),
        {
            "name": "Confocal session 1",
            "source": "instrument",
            "external_id": "LAB-0001",
            "relative_paths": json.dumps(list(TREE)),
            "exp0-sample": "HeLa",
            "exp0-magnification": "40",
            "exp0-stain": "DAPI",
            "files": [SimpleUploadedFile(p.rsplit("/", 1)[-1], d) for p, d in TREE.items()],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    raw = Dataset.objects.get(layer="raw")
    for datafile in raw.files.all():
        assert _s3_bytes("raw", datafile.storage_key) == TREE[datafile.path]
        assert datafile.sha256 == hashlib.sha256(TREE[datafile.path]).hexdigest()

    # 2. A viewer finds it and opens it.
    viewer = client_for("viewer")
    listing = viewer.get(reverse("catalog:dataset_list"), {"q": "LAB-0001"}).content.decode()
    assert "Confocal session 1" in listing
    url = reverse("catalog:dataset_detail", args=[raw.pk])
    page = viewer.get(url, {"dir": "session 1"}).content.decode()
    assert "métadonnées.json" in page and "Magnification" in page

    # 3. The member promotes it; the worker copies server-side and verifies.
    response = client_for("member").post(
        reverse("catalog:dataset_promote", args=[raw.pk]), {"target_layer": "processed"}
    )
    assert response.status_code == 302
    promotion = Promotion.objects.get(source=raw)
    _wait(lambda: Promotion.objects.get(pk=promotion.pk).status in ("succeeded", "failed"), 60)
    promotion = Promotion.objects.select_related("job").get(pk=promotion.pk)
    assert promotion.status == JobStatus.SUCCEEDED, promotion.error
    processed = promotion.target
    assert processed.layer == "processed" and processed.manifest_digest == raw.manifest_digest
    for datafile in processed.files.all():
        assert _s3_bytes("processed", datafile.storage_key) == TREE[datafile.path]
    page = viewer.get(reverse("catalog:dataset_detail", args=[raw.pk])).content.decode()
    assert "collection" in page.lower() and "promotion" in page.lower()

    # 4. A curator triggers a backup; the worker snapshots objects and catalog.
    response = client_for("curator").post(reverse("backups:backup_trigger"))
    assert response.status_code == 302
    job = BackupJob.objects.get()
    _wait(lambda: BackupJob.objects.get(pk=job.pk).status in ("succeeded", "failed"), 60)
    job = BackupJob.objects.select_related("job").get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, (job.errors, job.job.log)
    manifest = json.loads(_backup_bytes(job.prefix + "manifest.json"))
    assert manifest["file_count"] == 2 * len(TREE) and manifest["dataset_count"] == 2
    for entry in (f for dataset in manifest["datasets"] for f in dataset["files"]):
        data = _backup_bytes(entry["blob"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    listing = client_for("curator").get(reverse("backups:backup_list")).content.decode()
    assert job.prefix in listing and "succeeded" in listing
