"""Restore drills: a sample of the newest snapshot restored into scratch and verified byte
for byte, the outcome recorded, scratch removed, admins mailed when it fails.

On the embedded folder and on S3 over HTTP (moto in another process)."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from backups.models import Drill, DrilledDataset, DrillResult
from backups.services import blob_key
from backups.services.drill import drill_request, drill_sample
from backups.tasks import drill_scheduled_task
from backups.tests.snapshots import snapshot
from catalog.models import DataFile, Dataset
from catalog.tests.factories import FILES, promote_dataset, upload_dataset
from lakeweb.errors import PermissionRefused
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def scratch(settings, tmp_path: Path) -> Path:
    settings.DRILL_SCRATCH_DIR = tmp_path / "drills"
    return settings.DRILL_SCRATCH_DIR


def drill_run(user=None) -> Drill:
    drill = drill_request(user=user)
    job_run(job_id=drill.job_id)
    drill.refresh_from_db()
    drill.job.refresh_from_db()
    return drill


def blob_corrupt(data: bytes) -> None:
    """Change the stored bytes of the blob holding ``data``, on disk or in the bucket."""
    store = backup_store()
    key = blob_key(hashlib.sha256(data).hexdigest())
    if store.kind == "filesystem":
        (Path(store.root) / key).write_bytes(b"bit rot")  # type: ignore[attr-defined]
    else:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=b"bit rot")  # type: ignore[attr-defined]


def scratch_files(scratch: Path) -> list[Path]:
    return [p for p in scratch.rglob("*") if p.is_file()] if scratch.exists() else []


def objects_in_layers() -> dict[str, list[str]]:
    layers = ("raw", "processed", "curated", "archive")
    return {layer: sorted(layer_store(layer).list_keys("")) for layer in layers}


def test_a_drill_restores_the_sample_into_scratch_verifies_every_byte_and_removes_it(
    lake: str, settings, member, scratch
) -> None:
    settings.DRILL_SAMPLE_SIZE = 10
    raw = upload_dataset(member, name="A")
    promote_dataset(raw, member)
    upload_dataset(member, files={"b/other.txt": b"other bytes"}, name="B")
    backup = snapshot()
    datasets, layers = list(Dataset.objects.values_list("pk", "status")), objects_in_layers()

    drill = drill_run()

    assert drill.job.status == JobStatus.SUCCEEDED, drill.job.log + drill.job.error
    assert drill.result == DrillResult.PASSED and drill.failures == []
    assert drill.snapshot == backup.prefix.removeprefix("snapshots/").strip("/")
    assert sorted(drill.datasets) == sorted(str(pk) for pk, _ in datasets)
    files = DataFile.objects.all()
    assert drill.file_count == files.count()
    assert drill.byte_count == sum(f.size for f in files)
    assert drill.seconds is not None and drill.finished_at is not None
    assert set(DrilledDataset.objects.values_list("dataset_id", flat=True)) == {
        pk for pk, _ in datasets
    }
    # Nothing reached the catalog or the layers; scratch is empty again.
    assert list(Dataset.objects.values_list("pk", "status")) == datasets
    assert objects_in_layers() == layers
    assert scratch_files(scratch) == []
    assert drill.job.result["result"] == "passed"


def test_a_corrupt_blob_fails_the_drill_naming_the_file_and_mails_the_admins(
    lake: str, member, users, mailoutbox, scratch
) -> None:
    first = upload_dataset(member, name="A")
    second = upload_dataset(member, files={"b/other.txt": b"other bytes"}, name="B")
    snapshot()
    blob_corrupt(FILES["run1/notes/readme.txt"])

    drill = drill_run()

    assert drill.job.status == JobStatus.FAILED
    assert drill.result == DrillResult.FAILED
    assert [f["dataset"] for f in drill.failures] == [str(first.pk)]
    assert "run1/notes/readme.txt" in drill.failures[0]["reason"]
    assert "1 of 2 datasets" in drill.job.error and "run1/notes/readme.txt" in drill.job.error
    # The intact one was verified and counted.
    assert drill.file_count == second.files.count() == 1
    assert scratch_files(scratch) == []
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert "restore drill failed" in mail.subject and users["admin"].email in mail.to
    assert "run1/notes/readme.txt" in mail.body


def test_a_drill_with_no_complete_snapshot_fails_with_a_reason_and_mails_the_admins(
    member, mailoutbox
) -> None:
    upload_dataset(member)

    drill = drill_run()

    assert drill.job.status == JobStatus.FAILED
    assert "no complete snapshot" in drill.job.error
    assert drill.result == DrillResult.FAILED
    assert "no complete snapshot" in drill.failures[0]["reason"]
    assert len(mailoutbox) == 1


def test_a_drill_whose_snapshot_lost_its_catalog_fails(member, mailoutbox) -> None:
    upload_dataset(member)
    backup = snapshot()
    backup_store().delete(backup.prefix + "catalog.json")

    drill = drill_run()

    assert drill.result == DrillResult.FAILED
    assert drill.failures[0] == {
        "dataset": "",
        "reason": "catalog.json is missing from the snapshot",
    }
    assert len(mailoutbox) == 1


def test_the_sample_takes_the_oldest_drilled_half_and_the_rest_at_random() -> None:
    ids = [str(uuid.UUID(int=n + 1)) for n in range(20)]
    now = timezone.now()
    # Every one drilled, ids[5] longest ago, then ids[12], then the rest at the same time.
    DrilledDataset.objects.bulk_create(
        DrilledDataset(dataset_id=i, drilled_at=now) for i in ids if i not in (ids[5], ids[12])
    )
    DrilledDataset.objects.create(dataset_id=ids[5], drilled_at=now.replace(year=now.year - 2))
    DrilledDataset.objects.create(dataset_id=ids[12], drilled_at=now.replace(year=now.year - 1))
    never = str(uuid.UUID(int=99))

    sample = drill_sample([*ids, never], size=6)

    assert len(sample) == len(set(sample)) == 6
    assert sample[:3] == [never, ids[5], ids[12]]
    assert set(sample[3:]) <= set(ids) - {ids[5], ids[12]}
    assert drill_sample(ids[:2], size=6) == ids[:2]  # fewer than asked: all of them


def test_a_second_drill_takes_the_datasets_the_first_left_out(settings, member) -> None:
    settings.DRILL_SAMPLE_SIZE = 2
    for n in range(4):
        upload_dataset(member, files={f"f{n}.txt": f"file {n}".encode()}, name=f"D{n}")
    snapshot()

    first = set(drill_run().datasets)
    second = drill_run()

    # Half of each sample (one of two) is the oldest-drilled: never drilled before.
    assert second.result == DrillResult.PASSED
    assert len(first) == 2 and set(second.datasets) - first


def test_only_curators_and_admins_run_a_drill_and_a_live_one_is_not_doubled(
    member, curator
) -> None:
    with pytest.raises(PermissionRefused):
        drill_request(user=member)
    assert not Job.objects.filter(kind="drill").exists()

    first = drill_request(user=curator)
    assert drill_request(user=curator).pk == first.pk
    assert str(first.job_id) == drill_scheduled_task()
    assert Drill.objects.count() == 1 and first.job.requested_by == curator
