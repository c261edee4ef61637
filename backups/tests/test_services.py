from __future__ import annotations

import datetime
import hashlib
import json

import pytest
from django.utils import timezone

from backups.models import BackupJob, BackupKind
from backups.services import backup_prune, backup_request, snapshot_prefix
from catalog.models import Activity, ProvenanceEvent
from catalog.services import PermissionRefused
from catalog.tests.factories import FILES, promote_dataset, upload_dataset
from conftest import read_object
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store

pytestmark = pytest.mark.django_db


def run(job: BackupJob) -> None:
    """Run a backup's job here, as a worker would, and read back both rows."""
    job_run(job_id=job.job_id)
    job.refresh_from_db()
    job.job.refresh_from_db()


def test_backup_copies_every_object_and_the_catalog_then_the_manifest(
    lake: str, member, curator
) -> None:
    source = upload_dataset(member)
    promote_dataset(source, member)
    job = backup_request(kind=BackupKind.MANUAL, user=curator)

    run(job)

    assert job.status == JobStatus.SUCCEEDED and job.errors == []
    assert job.job.queue == "long" and job.job.result["objects"] == job.object_count
    assert job.object_count == 2 * len(FILES) + 1  # raw + processed + catalog.json
    assert job.bytes_copied == 2 * sum(len(d) for d in FILES.values())
    manifest = json.loads(read_object("archive", job.prefix + "manifest.json"))
    assert manifest["write_date"] and manifest["file_count"] == job.object_count
    for entry in manifest["files"]:
        data = read_object("archive", job.prefix + entry["path"])
        assert len(data) == entry["size"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    raw_key = f"objects/raw/{source.files.get(path='run1/empty.dat').storage_key}"
    assert raw_key in {entry["path"] for entry in manifest["files"]}
    catalog = json.loads(read_object("archive", job.prefix + "catalog.json"))
    assert {"catalog.dataset", "catalog.datafile", "catalog.provenanceevent"} <= {
        row["model"] for row in catalog
    }
    assert ProvenanceEvent.objects.filter(activity=Activity.BACKUP).count() == 1


def test_manifest_is_written_last(member, monkeypatch) -> None:
    upload_dataset(member)
    archive = layer_store("archive")
    written: list[str] = []

    def spy(method):
        def write(self, key, body, **kwargs):
            written.append(key.rsplit("/", 1)[-1])
            return method(self, key, body, **kwargs)

        return write

    # Every way the store writes an object: streams and whole bytes.
    for name in ("save", "put_bytes"):
        monkeypatch.setattr(type(archive), name, spy(getattr(type(archive), name)))
    run(backup_request(kind=BackupKind.MANUAL, user=None))
    assert written[-1] == "manifest.json" and len(written) == len(FILES) + 2


def test_backup_job_runs_once(member) -> None:
    upload_dataset(member)
    job = backup_request(kind=BackupKind.DAILY, user=None)
    run(job)
    assert job_run(job_id=job.job_id) is None
    assert ProvenanceEvent.objects.filter(activity=Activity.BACKUP).count() == 1


def test_backup_records_a_missing_object_as_an_error(member) -> None:
    dataset = upload_dataset(member)
    lost = dataset.files.get(path="run1/notes/readme.txt")
    layer_store("raw").delete(lost.storage_key)
    job = backup_request(kind=BackupKind.MANUAL, user=None)

    run(job)

    assert job.status == JobStatus.FAILED and job.error_count == 1
    assert "readme.txt" in job.errors[0] and "could not be copied" in job.job.error
    manifest = json.loads(read_object("archive", job.prefix + "manifest.json"))
    assert manifest["errors"] == job.errors


def test_only_curators_trigger_backups(member) -> None:
    with pytest.raises(PermissionRefused):
        backup_request(kind=BackupKind.MANUAL, user=member)
    assert not BackupJob.objects.exists()


def test_snapshot_prefixes() -> None:
    when = datetime.datetime(2026, 11, 22, 2, 0, tzinfo=datetime.UTC)  # a Sunday
    assert snapshot_prefix(kind="daily", when=when) == "backups/daily/2026-11-22/"
    assert snapshot_prefix(kind="weekly", when=when) == "backups/weekly/2026-W47/"
    assert snapshot_prefix(kind="manual", when=when) == "backups/manual/2026-11-22T020000/"


def test_retention_keeps_the_newest_snapshots(settings) -> None:
    settings.BACKUP_KEEP_DAILY = 2
    archive = layer_store("archive")
    for day in ("2026-11-18", "2026-11-19", "2026-11-20"):
        archive.put_bytes(f"backups/daily/{day}/manifest.json", b"{}")
    archive.put_bytes("backups/weekly/2026-W40/manifest.json", b"{}")

    assert backup_prune(kind="daily") == ["2026-11-18"]
    remaining = sorted(archive.list_keys("backups/"))
    assert remaining == [
        "backups/daily/2026-11-19/manifest.json",
        "backups/daily/2026-11-20/manifest.json",
        "backups/weekly/2026-W40/manifest.json",
    ]


def test_default_schedules_exist() -> None:
    from django_celery_beat.models import PeriodicTask

    daily = PeriodicTask.objects.get(name="lakeweb daily backup")
    weekly = PeriodicTask.objects.get(name="lakeweb weekly backup")
    assert (daily.crontab.hour, daily.crontab.minute, daily.crontab.day_of_week) == ("2", "0", "*")
    assert (weekly.crontab.hour, weekly.crontab.minute, weekly.crontab.day_of_week) == (
        "3",
        "0",
        "0",
    )
    assert json.loads(daily.kwargs) == {"kind": "daily"}
    assert daily.task == "backups.tasks.backup_scheduled_task"


def test_timestamps_use_the_configured_time_zone(settings) -> None:
    settings.TIME_ZONE = "Europe/Paris"
    when = timezone.make_aware(datetime.datetime(2026, 11, 21, 23, 30), datetime.UTC)
    assert snapshot_prefix(kind="daily", when=when) == "backups/daily/2026-11-22/"
