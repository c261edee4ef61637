"""Fixity of the backup store: its blobs are re-read in the same batches as the layers'
files, with the same cycle guarantee; a corrupt or missing blob is a failure that names
the snapshots referencing it, shown on the fixity page and mailed to the admins.

Corruption is made the way it happens: bytes changed on disk, or other bytes PUT to
the blob's key on the S3 server (moto, in its own process).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from backups.fixity import FIXITY_KIND
from backups.fixity_status import fixity_coverage, fixity_request
from backups.models import Blob
from backups.services import blob_key
from backups.tests.fixity_runs import run_batch
from backups.tests.snapshots import name_of, snapshot
from catalog.models import DataFile, FixityFailure, FixityKind
from catalog.tests.factories import FILES, upload_dataset
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"
SHA = hashlib.sha256(FILES[PATH]).hexdigest()


@pytest.fixture(autouse=True)
def one_batch_a_cycle(settings) -> None:
    settings.FIXITY_CYCLE_DAYS = 14
    settings.FIXITY_INTERVAL_MINUTES = 14 * 24 * 60


def blob_write(sha: str, data: bytes) -> None:
    store = backup_store()
    if store.kind == "filesystem":
        (Path(store.root) / blob_key(sha)).write_bytes(data)  # type: ignore[attr-defined]
    else:
        store.client.put_object(Bucket=store.bucket, Key=blob_key(sha), Body=data)  # type: ignore[attr-defined]


def test_a_corrupt_blob_is_found_named_with_its_snapshots_shown_and_mailed(
    lake: str, member, users, mailoutbox, client_for, django_capture_on_commit_callbacks
) -> None:
    upload_dataset(member)
    first, second = snapshot(), snapshot()
    blob_write(SHA, b"bit rot")

    with django_capture_on_commit_callbacks(execute=True):  # the mail goes after commit
        job = run_batch()

    failure = FixityFailure.objects.get()
    assert failure.kind == FixityKind.MISMATCH and failure.layer == "backups"
    assert failure.storage_key == blob_key(SHA) and failure.expected_sha256 == SHA
    assert failure.found_sha256 == hashlib.sha256(b"bit rot").hexdigest()
    assert name_of(first) in failure.detail and name_of(second) in failure.detail
    assert job.result["failures"] == 1 and job.result["blobs"] == Blob.objects.count()
    # Every other blob was verified; the corrupt one stays unverified.
    assert list(Blob.objects.filter(verified_at__isnull=True).values_list("sha256", flat=True)) == [
        SHA
    ]
    assert len(mailoutbox) == 1 and users["admin"].email in mailoutbox[0].to
    assert blob_key(SHA) in mailoutbox[0].body and name_of(first) in mailoutbox[0].body
    page = client_for("curator").get(reverse("backups:fixity")).content.decode()
    assert blob_key(SHA) in page and name_of(second) in page

    with django_capture_on_commit_callbacks(execute=True):
        run_batch()  # seen again: still one open failure, not mailed twice
    assert FixityFailure.objects.count() == 1 and len(mailoutbox) == 1


def test_a_missing_blob_a_snapshot_names_is_a_failure_and_one_none_names_is_not(
    member, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    upload_dataset(member)
    backup = snapshot()
    backup_store().delete(blob_key(SHA))
    stray = "f" * 64  # a row whose copy never happened (a snapshot that failed)
    Blob.objects.create(sha256=stray, size=3, last_used_at=backup.job.created_at)

    with django_capture_on_commit_callbacks(execute=True):
        run_batch()

    failure = FixityFailure.objects.get()
    assert failure.kind == FixityKind.MISSING and failure.storage_key == blob_key(SHA)
    assert name_of(backup) in failure.detail
    assert Blob.objects.get(sha256=stray).verified_at is not None
    assert len(mailoutbox) == 1


def test_a_blob_whose_bytes_come_back_closes_its_failure(member) -> None:
    upload_dataset(member)
    snapshot()
    blob_write(SHA, b"bit rot")
    run_batch()
    assert FixityFailure.objects.filter(resolved_at__isnull=True).count() == 1

    blob_write(SHA, FILES[PATH])
    Blob.objects.update(verified_at=None)
    run_batch()

    assert FixityFailure.objects.get().resolved_at is not None
    assert not Blob.objects.filter(verified_at__isnull=True).exists()


def test_after_a_cycle_of_batches_every_file_and_blob_was_verified_once(settings, member) -> None:
    settings.FIXITY_CYCLE_DAYS = 1
    settings.FIXITY_INTERVAL_MINUTES = 120  # 12 batches a cycle
    upload_dataset(member, files={f"f/{i:03d}.dat": f"file {i}".encode() for i in range(12)})
    snapshot()
    assert Blob.objects.count() == 12
    taken: list[object] = []
    for _ in range(12):
        job = run_batch()
        assert job.result["batch"] == 2 == job.result["verified"]  # ceil(24 / 12)
        taken += job.parameters["batch"] + job.parameters["blobs"]

    files = set(DataFile.objects.values_list("pk", flat=True))
    blobs = set(Blob.objects.values_list("sha256", flat=True))
    assert set(taken) == files | blobs and len(taken) == 24  # each object exactly once
    coverage = fixity_coverage()
    assert coverage["objects"] == 24 and coverage["blobs"] == 12
    assert coverage["percent"] == 100.0 and coverage["blobs_verified_within_cycle"] == 12


def test_a_batch_taken_up_again_verifies_only_the_blobs_its_lost_attempt_had_not(
    member,
) -> None:
    upload_dataset(member, files={f"f/{i:03d}.dat": f"file {i}".encode() for i in range(6)})
    snapshot()
    shas = sorted(Blob.objects.values_list("sha256", flat=True))
    job = fixity_request(kind=FIXITY_KIND, user=None)
    cutoff = timezone.now()
    # As a first attempt leaves it when its worker is killed: the batch taken, half verified.
    job.parameters = {"batch": [], "blobs": shas, "cutoff": cutoff.isoformat()}
    job.save(update_fields=["parameters"])
    Blob.objects.filter(sha256__in=shas[:3]).update(verified_at=cutoff + timedelta(seconds=1))
    before = dict(Blob.objects.filter(sha256__in=shas[:3]).values_list("sha256", "verified_at"))

    job_run(job_id=job.pk)
    job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.log + job.error
    assert job.result["blobs"] == 6 == job.result["verified"]
    after = dict(Blob.objects.filter(sha256__in=shas[:3]).values_list("sha256", "verified_at"))
    assert after == before  # not read again
    assert not Blob.objects.filter(verified_at__isnull=True).exists()


def test_a_blob_fixity_finds_gone_is_copied_again_by_the_next_snapshot(member) -> None:
    upload_dataset(member)
    snapshot()
    backup_store().delete(blob_key(SHA))
    run_batch()
    assert Blob.objects.get(sha256=SHA).stored_at is None  # no longer vouched for

    again = snapshot()

    assert again.bytes_copied == len(FILES[PATH])  # the one gone blob, and no other
    assert backup_store().sha256(blob_key(SHA))[1] == SHA
    Blob.objects.update(verified_at=None)
    run_batch()
    assert FixityFailure.objects.get().resolved_at is not None
