"""Restore: a deleted dataset comes back whole, a damaged blob fails only its dataset,
an incomplete snapshot is refused, and a whole lake comes back into an empty instance."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from backups.models import BackupJob
from backups.services import (
    SnapshotIncomplete,
    blob_key,
    restore_request,
    snapshots_restorable,
)
from backups.tests.snapshots import name_of, snapshot
from catalog.models import (
    Activity,
    CatalogVersion,
    DataFile,
    DataFolder,
    Dataset,
    DatasetStatus,
    DatasetTally,
    FieldValueTally,
    MetadataForm,
    MetadataFormVersion,
    Promotion,
    ProvenanceEvent,
    Tag,
    TagTally,
)
from catalog.services import dataset_delete
from catalog.tests.factories import FILES, promote_dataset, upload_dataset
from conftest import read_object
from lakeweb.errors import ActionRefused, BadInput, NotFound, PermissionRefused, TooLarge
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db


def restore(backup: BackupJob, **kwargs) -> Job:
    job = restore_request(snapshot=name_of(backup), **kwargs)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_a_deleted_dataset_comes_back_with_its_id_files_metadata_and_provenance(
    lake: str, member, curator
) -> None:
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    events = set(processed.provenance_events.values_list("id", flat=True))
    backup = snapshot()
    dataset_delete(dataset=processed, user=curator)
    assert list(layer_store("processed").list_keys(processed.storage_prefix)) == []

    job = restore(backup, dataset_ids=[str(processed.pk)], user=curator)

    assert job.status == JobStatus.SUCCEEDED, job.log
    back = Dataset.objects.get(pk=processed.pk)
    assert back.status == DatasetStatus.READY and back.layer == "processed"
    assert back.metadata == processed.metadata and back.manifest_digest == processed.manifest_digest
    for datafile in back.files.all():
        assert read_object("processed", datafile.storage_key) == FILES[datafile.path]
    assert events <= set(back.provenance_events.values_list("id", flat=True))
    restore_event = back.provenance_events.get(activity=Activity.RESTORE)
    assert restore_event.parameters["snapshot"] == name_of(backup)
    assert restore_event.actor == curator
    assert DataFolder.objects.filter(dataset=back).exists()  # browsable again


def test_a_dataset_that_still_exists_is_refused_and_nothing_is_queued(member, curator) -> None:
    raw = upload_dataset(member)
    backup = snapshot()
    jobs = Job.objects.count()

    with pytest.raises(ActionRefused, match="still exists"):
        restore_request(snapshot=name_of(backup), dataset_ids=[str(raw.pk)], user=curator)

    assert Job.objects.count() == jobs


@pytest.mark.parametrize(
    ("name", "ids", "error", "message"),
    [
        ("../../etc", [], BadInput, "not a snapshot name"),
        ("manual/" + "x" * 300, [], BadInput, "not a snapshot name"),
        ("manual/none-such", [], NotFound, "no snapshot"),
        (None, ["not-a-uuid"], BadInput, "not a dataset id"),
        (None, [str(uuid.uuid4())], BadInput, "holds no dataset"),
        (None, [str(uuid.uuid4()) for _ in range(1001)], TooLarge, "At most 1000"),
    ],
)
def test_bad_restore_requests_are_refused_with_a_message_and_store_nothing(
    member, curator, name, ids, error, message
) -> None:
    upload_dataset(member)
    backup = snapshot()
    jobs, datasets = Job.objects.count(), Dataset.objects.count()

    with pytest.raises(error, match=message):
        restore_request(snapshot=name or name_of(backup), dataset_ids=ids, user=curator)

    assert (Job.objects.count(), Dataset.objects.count()) == (jobs, datasets)


def test_only_curators_and_admins_restore(member) -> None:
    upload_dataset(member)
    backup = snapshot()
    with pytest.raises(PermissionRefused):
        restore_request(snapshot=name_of(backup), user=member)
    assert not Job.objects.filter(kind="restore").exists()


def test_a_snapshot_without_its_manifest_is_not_listed_and_not_restorable(member, curator):
    upload_dataset(member)
    backup = snapshot()
    assert snapshots_restorable() == [name_of(backup)]
    backup_store().delete(backup.prefix + "manifest.json")  # as if its writer died

    assert snapshots_restorable() == []
    with pytest.raises(SnapshotIncomplete, match="incomplete"):
        restore_request(snapshot=name_of(backup), user=curator)
    assert not Job.objects.filter(kind="restore").exists()


def test_a_damaged_blob_fails_its_dataset_by_file_name_and_the_others_come_back(
    member, curator
) -> None:
    first = promote_dataset(upload_dataset(member, name="A"), member)
    other = {"b/other.txt": b"other bytes"}
    second = promote_dataset(upload_dataset(member, files=other, name="B"), member)
    backup = snapshot()
    for dataset in (first, second):
        dataset_delete(dataset=dataset, user=curator)
    sha = hashlib.sha256(FILES["run1/notes/readme.txt"]).hexdigest()
    blob = Path(backup_store().root) / blob_key(sha)  # type: ignore[attr-defined]
    blob.write_bytes(b"bit rot")

    job = restore(backup, user=curator)

    assert job.status == JobStatus.FAILED
    assert "1 of " in job.error and "run1/notes/readme.txt" in job.error, job.error
    assert Dataset.objects.get(pk=second.pk).status == DatasetStatus.READY
    assert read_object("processed", second.files.get().storage_key) == b"other bytes"
    # Nothing of the damaged one is visible: still the tombstone, no files, no objects.
    assert Dataset.objects.get(pk=first.pk).status == DatasetStatus.DELETED
    assert not DataFile.objects.filter(dataset=first).exists()
    assert list(layer_store("processed").list_keys(first.storage_prefix)) == []


def test_the_restore_command_lists_snapshots_and_refuses_an_incomplete_one(member, capsys) -> None:
    upload_dataset(member)
    backup = snapshot()
    call_command("restore", "--list")
    assert name_of(backup) in capsys.readouterr().out
    backup_store().delete(backup.prefix + "manifest.json")
    with pytest.raises(CommandError, match="incomplete"):
        call_command("restore", name_of(backup))


def lake_state() -> dict[str, object]:
    """Everything a restore must bring back, by natural keys (ids of auto rows differ)."""
    datasets = Dataset.objects.order_by("id")
    return {
        "datasets": list(
            datasets.values_list(
                "id",
                "name",
                "layer",
                "status",
                "metadata",
                "manifest_digest",
                "created_at",
                "sealed_at",
                "owner__username",
                "source__slug",
                "form_version__form__name",
                "form_version__number",
                "file_count",
                "total_size",
                "storage_prefix",
            )
        ),
        "tags": sorted(datasets.values_list("id", "tags__name")),
        "files": sorted(
            DataFile.objects.values_list(
                "dataset", "path", "size", "sha256", "storage_key", "folder"
            )
        ),
        "events": list(
            ProvenanceEvent.objects.exclude(activity=Activity.RESTORE)
            .order_by("id")
            .values_list("id", "activity", "dataset", "occurred_at", "actor__username", "note")
        ),
        "used": sorted(
            ProvenanceEvent.used.through.objects.values_list("provenanceevent_id", "dataset_id")
        ),
        "promotions": sorted(
            Promotion.objects.values_list("id", "source", "target", "job__status")
        ),
        "users": sorted(User.objects.values_list("username", "email", "is_staff", "is_superuser")),
        "memberships": sorted(
            User.groups.through.objects.values_list("user__username", "group__name")
        ),
        "groups": sorted(Group.objects.values_list("name", flat=True)),
        "forms": sorted(MetadataFormVersion.objects.values_list("form__name", "number", "fields")),
        "tallies": sorted(
            DatasetTally.objects.exclude(datasets=0).values_list("layer", "datasets", "bytes")
        ),
    }


def lake_bytes() -> dict[tuple[str, str], bytes]:
    return {
        (f.dataset.layer, f.storage_key): read_object(f.dataset.layer, f.storage_key)
        for f in DataFile.objects.select_related("dataset")
    }


def lake_wipe() -> None:
    """An empty instance: no catalog rows, no users, empty layers (the backup store kept)."""
    Promotion.objects.all().delete()
    ProvenanceEvent.objects.all().delete()
    Dataset.objects.all().delete()
    BackupJob.objects.all().delete()
    Job.objects.all().delete()
    for model in (DatasetTally, TagTally, FieldValueTally, CatalogVersion, Tag):
        model.objects.all().delete()
    MetadataFormVersion.objects.all().delete()
    MetadataForm.objects.all().delete()
    User.objects.all().delete()
    for layer in ("raw", "processed", "curated", "archive"):
        layer_store(layer).delete_prefix("datasets/")


def test_a_whole_lake_comes_back_into_an_empty_instance(lake: str, member, curator) -> None:
    raw = upload_dataset(member, name="Raw A")
    promote_dataset(promote_dataset(raw, member), curator)
    upload_dataset(curator, files={"x/y.txt": b"why"}, name="Raw B")
    gone = promote_dataset(upload_dataset(member, files={"z.txt": b"z"}, name="C"), member)
    dataset_delete(dataset=gone, user=curator)
    before, payload = lake_state(), lake_bytes()
    backup = snapshot()
    lake_wipe()
    assert not Dataset.objects.exists() and not User.objects.exists()

    call_command("restore", name_of(backup), "--into-empty")

    assert lake_state() == before
    assert lake_bytes() == payload
    restored = ProvenanceEvent.objects.filter(activity=Activity.RESTORE)
    assert restored.count() == Dataset.objects.filter(status="ready").count() == 5
    assert not any(user.has_usable_password() for user in User.objects.all())


def test_into_empty_is_refused_when_the_catalog_holds_datasets(member) -> None:
    upload_dataset(member)
    backup = snapshot()
    with pytest.raises(CommandError, match="empty catalog"):
        call_command("restore", name_of(backup), "--into-empty")
    assert not Job.objects.filter(kind="restore").exists()
