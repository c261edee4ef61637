"""rows_insert: many rows in a few statements, values as given, constants prepared once."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from catalog.models import DataFile, UploadFile
from catalog.tests.factories import DatasetFactory
from lakeweb import db


@pytest.mark.django_db
def test_rows_arrive_as_given_in_blocks(member, monkeypatch, django_assert_num_queries) -> None:
    dataset = DatasetFactory(owner=member)
    monkeypatch.setattr(db, "ROWS_PER_CALL", 2)
    rows = [(f"d/f{i}.txt", "d", i, f"{i:064x}", "text/plain", f"k/{i}") for i in range(5)]
    with django_assert_num_queries(3):  # 5 rows, 2 per call
        count = db.rows_insert(
            DataFile,
            ("path", "folder", "size", "sha256", "content_type", "storage_key"),
            iter(rows),
            constants={"dataset": dataset.pk},
        )
    assert count == 5
    stored = DataFile.objects.filter(dataset=dataset).order_by("size")
    assert [
        (f.path, f.folder, f.size, f.sha256, f.content_type, f.storage_key) for f in stored
    ] == rows


@pytest.mark.django_db
def test_a_timestamp_and_bytes_constant_read_back_equal(member) -> None:
    from django.utils import timezone

    dataset, now = DatasetFactory(owner=member), timezone.now()
    db.rows_insert(
        UploadFile,
        ("path", "size", "chunk_size", "storage_key", "content_type"),
        [("a.txt", 3, 8, "k/a.txt", "text/plain")],
        constants={
            "dataset": dataset.pk,
            "received": 0,
            "hash_state": b"\x00\x01",
            "storage_upload_id": "",
            "completed": False,
            "updated_at": now,
        },
    )
    row = UploadFile.objects.get(dataset=dataset)
    assert (row.updated_at, bytes(row.hash_state), row.completed) == (now, b"\x00\x01", False)


@pytest.mark.django_db
def test_constraints_still_hold_and_a_relation_is_not_a_column(member) -> None:
    dataset = DatasetFactory(owner=member)
    columns = ("path", "folder", "size", "sha256", "content_type", "storage_key")
    row = ("a.txt", "", 1, "0" * 64, "", "k")
    with pytest.raises(IntegrityError), transaction.atomic():
        db.rows_insert(DataFile, columns, [row, row], constants={"dataset": dataset.pk})
    assert not DataFile.objects.filter(dataset=dataset).exists()
    with pytest.raises(TypeError, match="not a column"):
        db.rows_insert(UploadFile, ("parts",), [(1,)])
