"""Reconciliation: objects no row names (orphans) and rows whose object is missing."""

from __future__ import annotations

import pytest

from backups.reconcile import RECONCILE_KIND
from backups.tests.fixity_runs import run_to_success
from catalog.models import FixityFailure
from catalog.tests.factories import promote_dataset, upload_dataset
from lakeweb.jobs.models import Job
from lakeweb.storage import layer_store

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"


def reconcile() -> Job:
    return run_to_success(RECONCILE_KIND)


def test_orphans_are_removed_outside_raw_and_reported_in_raw(lake, settings, users, member):
    settings.FIXITY_ORPHAN_GRACE_HOURS = 0  # every object is old enough here
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    # What a failed promotion, or an interrupted write, leaves behind.
    layer_store("processed").put_bytes(processed.storage_prefix + "stray.bin", b"left over")
    layer_store("processed").put_bytes("datasets/0000/gone.bin", b"no dataset")
    layer_store("raw").put_bytes(raw.storage_prefix + "stray.bin", b"left over")
    before = {layer: len(list(layer_store(layer).list_keys(""))) for layer in ("raw", "processed")}

    job = reconcile()

    assert job.result["processed"] == {"orphans": 2, "removed": 2, "missing": 0}
    assert job.result["raw"] == {"orphans": 1, "removed": 0, "missing": 0}
    assert len(list(layer_store("processed").list_keys(""))) == before["processed"] - 2
    assert len(list(layer_store("raw").list_keys(""))) == before["raw"]  # raw is write-once
    failures = FixityFailure.objects.filter(kind="orphan")
    assert failures.filter(layer="raw", removed=False, resolved_at__isnull=True).count() == 1
    assert failures.filter(layer="processed", removed=True).count() == 2
    assert processed.files.count() == len(list(layer_store("processed").list_keys("datasets/")))

    again = reconcile()  # nothing new: the raw orphan stays one open failure
    assert again.result["processed"]["orphans"] == 0
    assert failures.filter(layer="raw").count() == 1


def test_rows_whose_object_is_missing_are_reported(lake, users, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path=PATH)
    layer_store("raw").delete(datafile.storage_key)

    job = reconcile()

    assert job.result["raw"]["missing"] == 1
    failure = FixityFailure.objects.get()
    assert (failure.kind, failure.found_by, failure.datafile_id) == (
        "missing",
        "reconcile",
        datafile.pk,
    )


def test_young_objects_and_datasets_being_written_are_left_alone(
    filesystem_lake, settings, member
) -> None:
    dataset = upload_dataset(member)
    layer_store("raw").put_bytes(dataset.storage_prefix + "just-written.bin", b"new")
    job = reconcile()  # the default grace: a day
    assert job.result["raw"] == {"orphans": 0, "removed": 0, "missing": 0}
    assert not FixityFailure.objects.exists()
