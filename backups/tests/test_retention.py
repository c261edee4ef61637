"""Retention keeps N daily / N weekly and every manual snapshot; garbage collection removes
only blobs no kept snapshot names, after the grace window, never one a snapshot is using."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from backups.models import BackupKind, Blob
from backups.services import (
    blob_key,
    blobs_collect,
    snapshot_delete,
    snapshots_prune,
    snapshots_restorable,
)
from backups.services.retention import retention_request
from backups.tasks import retention_scheduled_task
from backups.tests.snapshots import name_of, snapshot
from catalog.tests.factories import upload_dataset
from lakeweb.errors import PermissionRefused
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db


def age_blobs(days: int) -> None:
    Blob.objects.update(last_used_at=timezone.now() - datetime.timedelta(days=days))


def test_retention_keeps_the_newest_daily_and_weekly_and_every_manual(member, settings) -> None:
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 2, 1
    upload_dataset(member)
    daily = [snapshot(BackupKind.DAILY) for _ in range(3)]
    weekly = [snapshot(BackupKind.WEEKLY) for _ in range(2)]
    manual = [snapshot(BackupKind.MANUAL) for _ in range(2)]

    removed = snapshots_prune()

    assert sorted(removed) == sorted([name_of(daily[0]), name_of(weekly[0])])
    kept = {name_of(b) for b in (*daily[1:], *weekly[1:], *manual)}
    assert set(snapshots_restorable()) == kept
    assert list(backup_store().list_keys(daily[0].prefix)) == []
    daily[0].refresh_from_db()
    assert daily[0].removed_at is not None


def test_gc_removes_only_blobs_no_kept_snapshot_names_after_the_grace_window(
    member, settings
) -> None:
    settings.BACKUP_KEEP_DAILY = 1
    upload_dataset(member, files={"a.txt": b"old bytes"}, name="Old")
    first = snapshot(BackupKind.DAILY)
    upload_dataset(member, files={"b.txt": b"new bytes"}, name="New")
    snapshot(BackupKind.DAILY)  # names both files; the first snapshot goes
    assert snapshots_prune() == [name_of(first)]
    blobs = set(backup_store().list_keys("blobs/"))

    age_blobs(30)
    assert blobs_collect() == {
        "blobs_kept": len(blobs),
        "blobs_removed": 0,
        "rows_forgotten": 0,
    }  # all still named

    # An orphan: a blob nobody names, unused for 30 days, and one used an hour ago.
    orphan, fresh = "0" * 64, "1" * 64
    for sha in (orphan, fresh):
        backup_store().put_bytes(blob_key(sha), b"orphan")
    Blob.objects.create(sha256=orphan, size=6, last_used_at=timezone.now() - datetime.timedelta(30))
    Blob.objects.create(sha256=fresh, size=6, last_used_at=timezone.now())

    assert blobs_collect() == {
        "blobs_kept": len(blobs) + 1,
        "blobs_removed": 1,
        "rows_forgotten": 0,
    }
    assert not backup_store().exists(blob_key(orphan))
    assert backup_store().exists(blob_key(fresh))
    assert not Blob.objects.filter(sha256=orphan).exists()


def test_gc_never_removes_a_blob_a_running_snapshot_is_writing(member) -> None:
    upload_dataset(member, files={"a.txt": b"bytes"})
    backup = snapshot(BackupKind.MANUAL)
    backup_store().delete(backup.prefix + "manifest.json")  # no snapshot names its blobs now
    age_blobs(30)
    # A snapshot starts and marks the blob used before it checks or copies it.
    from backups.services.blobs import blobs_touch

    blobs_touch(dict(Blob.objects.values_list("sha256", "size")))

    assert blobs_collect()["blobs_removed"] == 0
    age_blobs(30)
    assert blobs_collect()["blobs_removed"] == 1  # unused for the grace window: now it goes
    assert list(backup_store().list_keys("blobs/")) == []


def test_a_blob_in_the_store_that_this_instance_never_saw_gets_its_grace_first() -> None:
    backup_store().ensure()
    backup_store().put_bytes(blob_key("2" * 64), b"x")
    assert blobs_collect()["blobs_removed"] == 0
    assert Blob.objects.filter(sha256="2" * 64).exists()


def test_a_row_whose_blob_a_killed_pass_removed_is_forgotten_and_a_fresh_one_kept() -> None:
    backup_store().ensure()
    # A pass killed between removing the blob and its row left this row behind;
    # the other is a blob a running snapshot has marked but not copied yet.
    removed, coming = "3" * 64, "4" * 64
    Blob.objects.create(
        sha256=removed, size=1, last_used_at=timezone.now() - datetime.timedelta(30)
    )
    Blob.objects.create(sha256=coming, size=1, last_used_at=timezone.now())

    assert blobs_collect()["rows_forgotten"] == 1

    assert list(Blob.objects.values_list("sha256", flat=True)) == [coming]


def test_only_admins_delete_a_snapshot_and_a_manual_one_goes_then(member, users) -> None:
    upload_dataset(member)
    backup = snapshot(BackupKind.MANUAL)
    assert snapshots_prune() == []  # retention never removes a manual snapshot
    with pytest.raises(PermissionRefused):
        snapshot_delete(name=name_of(backup), user=users["curator"])
    assert snapshots_restorable() == [name_of(backup)]

    snapshot_delete(name=name_of(backup), user=users["admin"])

    assert snapshots_restorable() == []


def test_the_retention_job_runs_once_at_a_time_from_its_schedule(member) -> None:
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="lakeweb backup retention")
    assert task.task == "backups.tasks.retention_scheduled_task" and task.crontab.hour == "4"
    first = retention_scheduled_task()
    assert retention_scheduled_task() == "already queued"
    assert retention_request() is None
    job_run(job_id=first)
    job = Job.objects.get(pk=first)
    assert job.status == JobStatus.SUCCEEDED and job.queue == "long", job.log
    assert job.result == {
        "removed": [],
        "blobs_kept": 0,
        "blobs_removed": 0,
        "rows_forgotten": 0,
    }


def test_a_gc_pass_that_dies_after_removing_a_blob_leaves_a_row_that_does_not_vouch_for_it(
    member, monkeypatch
) -> None:
    upload_dataset(member, files={"a.txt": b"bytes"})
    backup = snapshot(BackupKind.MANUAL)
    backup_store().delete(backup.prefix + "manifest.json")  # no snapshot names its blob now
    age_blobs(30)

    def dies(self, *args, **kwargs):
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(Blob, "delete", dies)  # the blob went; its row stays
    with pytest.raises(RuntimeError):
        blobs_collect()
    monkeypatch.undo()

    assert list(backup_store().list_keys("blobs/")) == []
    assert Blob.objects.get().stored_at is None
    again = snapshot(BackupKind.MANUAL)  # asks the store, finds nothing, copies again
    assert again.bytes_copied == len(b"bytes")
    assert len(list(backup_store().list_keys("blobs/"))) == 1
