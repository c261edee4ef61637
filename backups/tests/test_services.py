"""Snapshots: content-addressed blobs, a consistent cut, a catalog without secrets."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from backups.models import BackupJob, BackupKind, Blob
from backups.services import backup_request, blob_key, checksum_line
from catalog.models import Activity, Dataset, DatasetStatus, ProvenanceEvent
from catalog.services import PermissionRefused
from catalog.tests.factories import FILES, promote_dataset, upload_dataset
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db


def run(job: BackupJob) -> BackupJob:
    """Run a backup's job here, as a worker would, and read back both rows."""
    job_run(job_id=job.job_id)
    job.refresh_from_db()
    job.job.refresh_from_db()
    return job


def read(key: str) -> bytes:
    with backup_store().open(key) as stream:
        return stream.read()


def snapshot(user=None, kind: str = BackupKind.MANUAL) -> BackupJob:
    return run(backup_request(kind=kind, user=user))


def test_a_snapshot_stores_each_distinct_file_once_and_its_manifest_names_every_file(
    lake: str, member, curator
) -> None:
    source = upload_dataset(member)
    promote_dataset(source, member)  # the same bytes again, under new keys

    job = snapshot(curator)

    assert job.status == JobStatus.SUCCEEDED, job.job.log
    assert job.job.queue == "long" and job.complete
    distinct = {hashlib.sha256(data).hexdigest(): data for data in FILES.values()}
    blobs = sorted(backup_store().list_keys("blobs/"))
    assert blobs == sorted(blob_key(sha) for sha in distinct)
    for sha, data in distinct.items():
        assert read(blob_key(sha)) == data
    total = sum(len(d) for d in FILES.values())
    assert (job.bytes_copied, job.bytes_reused) == (total, total)
    assert (job.dataset_count, job.object_count) == (2, 2 * len(FILES))
    manifest = json.loads(read(job.prefix + "manifest.json"))
    assert manifest["format"] == "lakeweb-snapshot/1" and manifest["write_date"]
    assert manifest["kind"] == "manual" and manifest["cut"] == job.cut.isoformat()
    files = [f for d in manifest["datasets"] for f in d["files"]]
    assert len(files) == 2 * len(FILES)
    for entry in files:
        assert entry["blob"] == blob_key(entry["sha256"]) and entry["size"] == len(
            distinct[entry["sha256"]]
        )
    catalog = read(job.prefix + "catalog.json")
    assert manifest["catalog"]["sha256"] == hashlib.sha256(catalog).hexdigest()
    assert ProvenanceEvent.objects.filter(activity=Activity.BACKUP).count() == 1


def test_a_second_snapshot_with_nothing_changed_copies_no_bytes(member) -> None:
    upload_dataset(member)
    snapshot()
    stored = set(backup_store().list_keys("blobs/"))

    second = snapshot()

    assert second.status == JobStatus.SUCCEEDED and second.bytes_copied == 0
    assert second.bytes_reused == sum(len(d) for d in FILES.values())
    assert set(backup_store().list_keys("blobs/")) == stored


@pytest.fixture
def store_asked(monkeypatch) -> list[str]:
    """The blob keys a snapshot asks the backup store about (a spy: the store still answers)."""
    asked: list[str] = []
    store = backup_store()
    exists = store.exists
    monkeypatch.setattr(store, "exists", lambda key: asked.append(key) or exists(key))
    return asked


def test_a_snapshot_asks_the_store_about_no_blob_the_catalog_knows_it_holds(
    member, store_asked
) -> None:
    upload_dataset(member)
    first = snapshot()
    assert first.bytes_copied == sum(len(d) for d in FILES.values())
    # A new store is listed once: no blob was asked about one by one.
    assert not [key for key in store_asked if key.startswith("blobs/")]
    assert not Blob.objects.filter(stored_at=None).exists()

    second = snapshot()

    assert second.status == JobStatus.SUCCEEDED and second.bytes_copied == 0
    assert not [key for key in store_asked if key.startswith("blobs/")]


def test_blobs_the_catalog_cannot_vouch_for_are_asked_about_not_copied_again(
    member, store_asked
) -> None:
    upload_dataset(member)
    snapshot()
    # As after a worker died between its copies and marking them stored; one blob
    # is still vouched for (a catalog that vouches for none lists the store instead).
    kept = Blob.objects.order_by("sha256").first()
    Blob.objects.exclude(pk=kept.pk).update(stored_at=None)
    unsure = set(backup_store().list_keys("blobs/")) - {blob_key(kept.sha256)}

    again = snapshot()

    assert again.status == JobStatus.SUCCEEDED and again.bytes_copied == 0
    assert {key for key in store_asked if key.startswith("blobs/")} == unsure
    assert not Blob.objects.filter(stored_at=None).exists()


def test_a_blob_missing_from_the_store_is_copied_again_when_the_catalog_cannot_vouch(
    member,
) -> None:
    """As when garbage collection died after removing a blob, before its row went."""
    upload_dataset(member)
    snapshot()
    lost = sorted(backup_store().list_keys("blobs/"))[0]
    backup_store().delete(lost)
    Blob.objects.filter(sha256=lost.rsplit("/", 1)[-1]).update(stored_at=None)

    again = snapshot()

    assert again.status == JobStatus.SUCCEEDED and again.bytes_copied > 0
    assert backup_store().exists(lost)


def test_the_catalog_holds_no_password_hash_token_or_session(member, curator) -> None:
    from lakeweb.tokens.services import api_token_create

    upload_dataset(member)
    token, key = api_token_create(user=member)
    job = snapshot(curator)

    text = read(job.prefix + "catalog.json").decode()
    catalog = json.loads(text)
    assert member.password not in text and "pbkdf2" not in text and "md5$" not in text
    assert key not in text and token.digest not in text and "password" not in text
    users = {user["username"]: user for user in catalog["users"]}
    assert users[member.username]["groups"] == ["member"]
    assert {"groups", "users", "sources", "tags", "forms", "datasets", "promotions", "events"} <= (
        set(catalog)
    )


def test_a_dataset_sealed_after_the_cut_waits_for_the_next_snapshot(member, monkeypatch) -> None:
    early = upload_dataset(member, name="Early")
    late = upload_dataset(member, name="Late")
    from django.utils import timezone

    # Sealed one hour after the cut this snapshot takes.
    Dataset.objects.filter(pk=late.pk).update(
        sealed_at=timezone.now() + timezone.timedelta(hours=1)
    )

    job = snapshot()

    manifest = json.loads(read(job.prefix + "manifest.json"))
    catalog = json.loads(read(job.prefix + "catalog.json"))
    assert [d["id"] for d in manifest["datasets"]] == [str(early.pk)]
    assert [d["id"] for d in catalog["datasets"]] == [str(early.pk)]
    assert all(e["dataset"] != str(late.pk) for e in catalog["events"])
    assert job.dataset_count == 1


def test_sha256sum_checks_a_lake_folder_against_the_checksums_file(member, settings) -> None:
    upload_dataset(member)
    job = snapshot()

    listing = backup_store().root / job.prefix / "manifest-sha256.txt"  # type: ignore[attr-defined]
    result = subprocess.run(
        [shutil.which("sha256sum") or "sha256sum", "-c", "--strict", str(listing)],
        cwd=settings.LAKEWEB_STORAGE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len(FILES)


def test_a_checksum_line_escapes_a_backslash_as_sha256sum_does() -> None:
    assert checksum_line("ab", "raw/a\\b") == b"\\ab  raw/a\\\\b\n"
    assert checksum_line("ab", "raw/a b") == b"ab  raw/a b\n"


def test_a_rerun_after_the_manifest_was_written_records_the_snapshot_once(member) -> None:
    upload_dataset(member)
    job = backup_request(kind=BackupKind.DAILY, user=None)
    run(job)
    from lakeweb.jobs.models import Job

    # As if the worker died after writing the manifest, before recording it:
    # that last step (row complete, provenance event) is one transaction.
    Job.objects.filter(pk=job.job_id).update(status=JobStatus.QUEUED, finished_at=None)
    BackupJob.objects.filter(pk=job.pk).update(complete=False)
    ProvenanceEvent.objects.filter(activity=Activity.BACKUP).delete()
    manifest = read(job.prefix + "manifest.json")
    run(job)

    assert job.status == JobStatus.SUCCEEDED and job.complete and job.job.attempts == 2
    assert ProvenanceEvent.objects.filter(activity=Activity.BACKUP).count() == 1
    assert read(job.prefix + "manifest.json") == manifest  # not written again


def test_a_missing_object_fails_the_snapshot_without_a_manifest(member, settings) -> None:
    from lakeweb.jobs.models import Job
    from lakeweb.storage import layer_store

    settings.JOBS_RETRY_BACKOFF = 0
    dataset = upload_dataset(member)
    lost = dataset.files.get(path="run1/notes/readme.txt")
    layer_store("raw").delete(lost.storage_key)

    job = backup_request(kind=BackupKind.MANUAL, user=None)
    for _attempt in range(3):  # a storage error may pass: tried three times
        Job.objects.filter(pk=job.job_id).update(not_before=None)
        run(job)

    assert job.status == JobStatus.FAILED and not job.complete and job.job.attempts == 3
    assert "readme.txt" in job.job.error and "readme.txt" in job.errors[0], job.job.log
    assert not backup_store().exists(job.prefix + "manifest.json")


def test_blobs_are_marked_used_by_each_snapshot(member) -> None:
    upload_dataset(member)
    snapshot()
    first = dict(Blob.objects.values_list("sha256", "last_used_at"))
    snapshot()
    again = dict(Blob.objects.values_list("sha256", "last_used_at"))
    assert set(first) == set(again) and all(again[sha] > first[sha] for sha in first)


def test_only_curators_trigger_backups(member) -> None:
    with pytest.raises(PermissionRefused):
        backup_request(kind=BackupKind.MANUAL, user=member)
    assert not BackupJob.objects.exists()


def test_uploading_datasets_are_not_in_a_snapshot(member) -> None:
    ready = upload_dataset(member)
    Dataset.objects.filter(pk=ready.pk).update(status=DatasetStatus.UPLOADING)
    job = snapshot()
    assert job.status == JobStatus.SUCCEEDED and job.dataset_count == 0 and job.object_count == 0


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
