"""Snapshots of datasets in the archive's cold tier (GLACIER on S3 over HTTP, the cold folder
on the filesystem store), whose files cannot be read or copied until restored.

A blob the store holds costs nothing; else its bytes are read from a readable copy elsewhere
in the lake; else the file is a per-file error of a snapshot that completes for the rest.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.urls import reverse

from backups.models import BackupJob, BackupKind
from backups.services import backup_request, blob_key
from catalog.models import DataFile, Dataset, Layer
from catalog.services import cold_restores_watch, dataset_delete, dataset_restore_request
from catalog.tests.factories import archive_dataset, promote_dataset, upload_dataset
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db

ONLY_HERE = {"result/table.csv": b"sample,count\nHeLa-1,42\n"}


@pytest.fixture
def glacier(settings, lake) -> str:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_FS_THAW_SECONDS = 0
    return lake


def _snapshot() -> BackupJob:
    backup = backup_request(kind=BackupKind.MANUAL, user=None)
    job_run(job_id=backup.job_id)
    return BackupJob.objects.select_related("job").get(pk=backup.pk)


def _manifest(backup: BackupJob) -> dict:
    with backup_store().open(backup.prefix + "manifest.json") as stream:
        return json.load(stream)


def _blob_bytes(sha256: str) -> bytes:
    with backup_store().open(blob_key(sha256)) as stream:
        return stream.read()


def _assert_every_blob_of(dataset: Dataset) -> None:
    for datafile in DataFile.objects.filter(dataset=dataset):
        assert hashlib.sha256(_blob_bytes(datafile.sha256)).hexdigest() == datafile.sha256


def test_a_dataset_backed_up_before_it_went_cold_costs_no_copy(glacier, member, curator) -> None:
    curated = promote_dataset(promote_dataset(upload_dataset(member), member), curator)
    first = _snapshot()
    assert first.job.status == JobStatus.SUCCEEDED and first.bytes_copied > 0

    archived = promote_dataset(curated, curator)
    assert archived.storage_class == "GLACIER"
    second = _snapshot()

    assert second.job.status == JobStatus.SUCCEEDED, second.job.log
    assert (second.bytes_copied, second.error_count, second.errors) == (0, 0, [])
    assert [d["layer"] for d in _manifest(second)["datasets"]].count(Layer.ARCHIVE) == 1
    _assert_every_blob_of(archived)


def test_a_cold_dataset_never_backed_up_is_copied_from_a_readable_copy_in_the_lake(
    glacier, member, curator
) -> None:
    archived = archive_dataset(member, curator)  # its raw, processed and curated copies read
    backup = _snapshot()

    assert backup.job.status == JobStatus.SUCCEEDED, backup.job.log
    assert backup.complete and backup.errors == [] and _manifest(backup)["errors"] == []
    distinct = {f.sha256: f.size for f in DataFile.objects.filter(dataset=archived)}
    assert backup.bytes_copied == sum(distinct.values())
    _assert_every_blob_of(archived)


def test_a_cold_file_with_no_readable_copy_is_a_per_file_error_and_the_rest_is_backed_up(
    glacier, member, curator, client_for
) -> None:
    source = upload_dataset(member, name="Source")
    # A curator's derived result, its only copy archived cold, the curated one deleted.
    derived = upload_dataset(
        curator, files=ONLY_HERE, name="Result", derived_from=(source,), layer=Layer.CURATED
    )
    archived = promote_dataset(derived, curator)
    dataset_delete(dataset=derived, user=curator)
    backup = _snapshot()

    assert backup.job.status == JobStatus.SUCCEEDED, backup.job.log
    assert backup.complete and backup.error_count == 1
    (error,) = backup.errors
    assert f"archive dataset {archived.pk}, file result/table.csv: in cold storage" in error
    assert "Request a restore" in error
    assert _manifest(backup)["errors"] == [error]
    missing = DataFile.objects.get(dataset=archived).sha256
    assert not backup_store().exists(blob_key(missing))
    _assert_every_blob_of(source)  # everything else is in the snapshot
    assert backup.object_count == source.file_count + 1
    page = client_for("admin").get(reverse("backups:backup_list")).content.decode()
    assert "file result/table.csv: in cold storage" in page


def test_a_restored_cold_dataset_is_backed_up_from_its_own_thawed_files(
    glacier, member, curator
) -> None:
    source = upload_dataset(member, name="Source")
    derived = upload_dataset(
        curator, files=ONLY_HERE, name="Result", derived_from=(source,), layer=Layer.CURATED
    )
    archived = promote_dataset(derived, curator)
    dataset_delete(dataset=derived, user=curator)
    restore = dataset_restore_request(dataset=archived, user=curator)
    job_run(job_id=restore.job_id)
    assert cold_restores_watch()["ready"] == 1

    backup = _snapshot()

    assert backup.job.status == JobStatus.SUCCEEDED, backup.job.log
    assert backup.errors == []
    _assert_every_blob_of(archived)
