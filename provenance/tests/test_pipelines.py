"""The shipped pipelines on real small files, run through the job runner into the lake."""

from __future__ import annotations

import hashlib
import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image

from catalog.models import Dataset, DatasetStatus
from catalog.tests.factories import upload_dataset
from conftest import read_object
from lakeweb.jobs.models import JobStatus
from provenance.pipelines.files import path_selected, patterns_of
from provenance.pipelines.requests import pipeline_run_request

from .conftest import CSV, TSV, jpeg_rgb, png_rgba, run_now, tiff_pages

pytestmark = pytest.mark.django_db


def _run(user, dataset: Dataset, name: str, **parameters):
    run = pipeline_run_request(user=user, pipeline=name, inputs=[dataset.pk], parameters=parameters)
    run = run_now(run)
    assert run.job.status == JobStatus.SUCCEEDED, run.job.log
    return run


def _files(dataset: Dataset) -> dict[str, bytes]:
    return {f.path: read_object(dataset.layer, f.storage_key) for f in dataset.files.all()}


def test_csv_and_tsv_become_parquet_with_their_inferred_schema(lake, member) -> None:
    source = upload_dataset(
        member, files={"tables/a.csv": CSV, "b.tsv": TSV, "notes.txt": b"not a table"}
    )
    run = _run(member, source, "tables.csv_to_parquet")

    output = run.output
    assert output.status == DatasetStatus.READY and output.layer == "processed"
    files = _files(output)
    assert sorted(files) == [
        "b.parquet",
        "b.schema.json",
        "tables/a.parquet",
        "tables/a.schema.json",
    ]
    table = pq.read_table(io.BytesIO(files["tables/a.parquet"]))
    assert table.column("sample").to_pylist() == ["A", "B", "C"]
    assert table.column("count").to_pylist() == [1, 2, 3]
    assert str(table.schema.field("ratio").type) == "double"
    schema = json.loads(files["tables/a.schema.json"])
    assert schema["rows"] == 3 and schema["source"] == "tables/a.csv"
    assert [(c["name"], c["type"]) for c in schema["columns"]] == [
        ("sample", "string"),
        ("count", "int64"),
        ("ratio", "double"),
        ("note", "string"),
    ]
    assert pq.read_table(io.BytesIO(files["b.parquet"])).column("length").to_pylist() == [
        19149,
        81189,
    ]
    # Every file hashed as stored: the catalog's SHA-256 is the stored bytes'.
    for datafile in output.files.all():
        assert datafile.sha256 == hashlib.sha256(files[datafile.path]).hexdigest()


def test_tiff_pages_png_and_jpeg_become_previews_with_size_and_bit_depth(lake, member) -> None:
    source = upload_dataset(
        member,
        files={
            "stack.tif": tiff_pages(3, (64, 80)),
            "img/photo.png": png_rgba((300, 120)),
            "img/cell.jpg": jpeg_rgb((90, 400)),
            "readme.txt": b"skip me",
        },
    )
    run = _run(member, source, "images.previews", max_size=32)

    files = _files(run.output)
    summary = {(item["path"], item["page"]): item for item in json.loads(files["images.json"])}
    assert sorted(summary) == [
        ("img/cell.jpg", 1),
        ("img/photo.png", 1),
        ("stack.tif", 1),
        ("stack.tif", 2),
        ("stack.tif", 3),
    ]
    assert summary["stack.tif", 2] | {"preview": ""} == {
        "path": "stack.tif",
        "page": 2,
        "width": 80,
        "height": 64,
        "bit_depth": 16,
        "channels": 1,
        "preview": "",
    }
    assert (summary["img/photo.png", 1]["bit_depth"], summary["img/photo.png", 1]["channels"]) == (
        8,
        4,
    )
    assert (summary["img/cell.jpg", 1]["width"], summary["img/cell.jpg", 1]["height"]) == (90, 400)
    for item in summary.values():
        preview = Image.open(io.BytesIO(files[item["preview"]]))
        assert preview.format == "PNG" and max(preview.size) <= 32
    assert "previews/stack.tif.page3.png" in files


def test_the_file_filter_keeps_the_matching_files_byte_for_byte(lake, member) -> None:
    source = upload_dataset(
        member,
        files={"a.csv": b"1,2\n", "sub/b.csv": b"3,4\n", "sub/c.txt": b"text", "d.CSV": b"5"},
    )
    run = _run(member, source, "files.filter", include="*.csv, *.txt", exclude="sub/*.txt")

    assert _files(run.output) == {"a.csv": b"1,2\n", "sub/b.csv": b"3,4\n"}
    assert run.output.manifest_digest != source.manifest_digest


@pytest.mark.parametrize(
    ("path", "include", "exclude", "kept"),
    [
        ("x/y/z.csv", "*.csv", "", True),
        ("x/y/z.csv", "x/*", "x/y/*", False),
        ("z.CSV", "*.csv", "", False),
        ("data/run 1.tif", "data/*.tif", "", True),
    ],
)
def test_globs_match_across_folders_and_excludes_win(path, include, exclude, kept) -> None:
    assert path_selected(path, patterns_of(include), patterns_of(exclude)) is kept
