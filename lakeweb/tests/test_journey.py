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
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from backups.models import BackupJob
from catalog.models import Dataset, Promotion
from catalog.tests.factories import microscopy_form
from conftest import require_services
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import JobStatus
from lakeweb.storage import layer_store

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


def _require_stack() -> None:
    if connection.vendor != "postgresql":
        require_services("needs PostgreSQL: set DATABASE_URL=postgres://...")
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        require_services("needs Redis: set CELERY_BROKER_URL=redis://...")
    import redis

    try:
        redis.Redis.from_url(broker, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        require_services(f"Redis at {broker} does not answer: {exc}")


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(s3_lake, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker process on the test database, the Redis broker and the S3 buckets."""
    _require_stack()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LAKEWEB_DATA_DIR": str(tmp_path / "worker-data"),
        "LAKEWEB_STORAGE": "s3",
        "S3_ENDPOINT_URL": s3_lake["S3_ENDPOINT_URL"],
        "S3_ACCESS_KEY_ID": s3_lake["S3_ACCESS_KEY_ID"],
        "S3_SECRET_ACCESS_KEY": s3_lake["S3_SECRET_ACCESS_KEY"],
        **{f"S3_BUCKET_{layer.upper()}": name for layer, name in s3_lake["S3_BUCKETS"].items()},
    }
    celery_app.control.purge()
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "lakeweb", "worker", "--pool=solo", "-l", "INFO"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(lambda: process.poll() is not None or bool(celery_app.control.ping(timeout=1)), 60)
        assert process.poll() is None, (tmp_path / "worker.log").read_text()
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait(done: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.25)
    raise AssertionError(f"not done after {seconds}s")


def _s3_bytes(layer: str, key: str) -> bytes:
    store = layer_store(layer)
    return store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()


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
    manifest = json.loads(_s3_bytes("archive", job.prefix + "manifest.json"))
    assert manifest["file_count"] == 2 * len(TREE) + 1
    for entry in manifest["files"]:
        data = _s3_bytes("archive", job.prefix + entry["path"])
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    listing = client_for("curator").get(reverse("backups:backup_list")).content.decode()
    assert job.prefix in listing and "succeeded" in listing
