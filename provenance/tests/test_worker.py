"""Pipelines on the production stack: a real Celery worker consuming only the ``pipelines``
queue over Redis, PostgreSQL, and S3 over HTTP in another process (moto).

A member uploads a folder of CSVs and TIFFs, runs both pipelines and runs
one again; the outputs, their SHA-256, the emails the worker sent and the
provenance are checked. A worker SIGKILLed mid-run loses nothing: the run
goes to another worker and its dataset is sealed once.
"""

from __future__ import annotations

import email
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from catalog.models import Activity, Dataset, DatasetStatus, ProvenanceEvent
from catalog.tests.factories import upload_dataset
from conftest import read_object
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.services import jobs_sweep
from lakeweb.storage import layer_store
from lakeweb.tests.stack import Worker, require_stack, wait, worker_env
from provenance.models import PipelineRun
from provenance.pipelines.requests import pipeline_run_again, pipeline_run_request

from .conftest import CSV, TSV, tiff_pages

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LEASE = 4
SITE = "https://lake.lab.example"


@pytest.fixture
def stack(s3_lake, tmp_path: Path) -> Iterator[dict]:
    require_stack()
    celery_app.control.purge()
    workers: list[Worker] = []

    def start(name: str) -> Worker:
        env = worker_env(
            s3_lake,
            tmp_path / f"{name}-data",
            JOBS_LEASE_SECONDS=str(LEASE),
            EMAIL_URL=f"filemail:///{tmp_path / 'mail'}",  # four slashes: an absolute path
            LAKEWEB_SITE_URL=SITE,
            PIPELINE_STAGING_DIR=str(tmp_path / f"{name}-staging"),
            LAKEWEB_PIPELINE_MODULES="provenance.pipelines.tables,provenance.pipelines.images,"
            "provenance.pipelines.files,provenance.tests.lab_pipelines",
        )
        worker = Worker(env, tmp_path / f"{name}.log", queues="pipelines")
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield {"start": start, "tmp": tmp_path}
    for worker in workers:
        worker.stop()
    celery_app.control.purge()


def _finished(run: PipelineRun, seconds: float = 120) -> PipelineRun:
    wait(lambda: Job.objects.get(pk=run.job_id).is_finished, seconds, every=0.25)
    return PipelineRun.objects.select_related("job", "output").get(pk=run.pk)


def _stored(dataset: Dataset) -> dict[str, bytes]:
    files = {f.path: read_object(dataset.layer, f.storage_key) for f in dataset.files.all()}
    for datafile in dataset.files.all():  # each file hashed as stored
        assert datafile.sha256 == hashlib.sha256(files[datafile.path]).hexdigest()
    return files


def _mails(folder: Path) -> list[email.message.Message]:
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.log"))]


def test_a_worker_on_the_pipelines_queue_runs_tables_and_images_and_a_run_again(
    stack, member, lab_pipelines
) -> None:
    worker = stack["start"]("pipelines")
    source = upload_dataset(
        member,
        files={
            "tables/counts.csv": CSV,
            "tables/genes.tsv": TSV,
            "images/stack.tif": tiff_pages(4, (48, 40)),
            "images/single.tif": tiff_pages(1, (20, 30)),
        },
        name="Plate 7",
    )
    tables = pipeline_run_request(user=member, pipeline="tables.csv_to_parquet", inputs=[source.pk])
    images = pipeline_run_request(
        user=member, pipeline="images.previews", inputs=[source.pk], parameters={"max_size": 16}
    )
    tables, images = _finished(tables), _finished(images)
    again = _finished(pipeline_run_again(run=tables, user=member))

    for run in (tables, images, again):
        assert run.job.status == JobStatus.SUCCEEDED, run.job.log
        assert run.job.queue == "pipelines" and f":{worker.process.pid}:" in run.job.log
        assert run.output.status == DatasetStatus.READY and run.output.layer == "processed"
    table_files = _stored(tables.output)
    assert sorted(table_files) == [
        "tables/counts.parquet",
        "tables/counts.schema.json",
        "tables/genes.parquet",
        "tables/genes.schema.json",
    ]
    parquet = pq.read_table(io.BytesIO(table_files["tables/counts.parquet"]))
    assert parquet.num_rows == 3 and str(parquet.schema.field("count").type) == "int64"
    image_files = _stored(images.output)
    summary = json.loads(image_files["images.json"])
    assert [(item["path"], item["page"]) for item in summary] == [
        ("images/single.tif", 1),
        *[("images/stack.tif", page) for page in range(1, 5)],
    ]
    assert {item["bit_depth"] for item in summary} == {16}
    assert len([path for path in image_files if path.startswith("previews/")]) == 5

    # Run again: a new dataset, the same bytes, so the same manifest digest.
    assert again.reproduces_id == tables.pk and again.output_id != tables.output_id
    assert again.output.manifest_digest == tables.output.manifest_digest
    assert _stored(again.output) == table_files

    events = ProvenanceEvent.objects.filter(activity=Activity.PIPELINE).order_by("occurred_at")
    assert [event.dataset_id for event in events] == [
        run.output_id for run in sorted((tables, images, again), key=lambda r: r.ended_at)
    ]
    for event in events:
        assert list(event.used.all()) == [source]
        assert event.parameters["inputs"][0]["manifest_digest"] == source.manifest_digest
        assert event.parameters["software"]["python"] and event.parameters["outcome"] == "succeeded"

    mails = _mails(stack["tmp"] / "mail")
    assert len(mails) == 3 and all(m["To"] == "member@lab.example" for m in mails)
    bodies = "\n".join(m.get_payload() for m in mails)
    for run in (tables, images, again):
        assert f"{SITE}/provenance/runs/{run.pk}/" in bodies


def test_a_run_whose_worker_is_sigkilled_is_sealed_once_by_another(
    stack, member, lab_pipelines
) -> None:
    first = stack["start"]("first")
    source = upload_dataset(member)
    run = pipeline_run_request(user=member, pipeline="lab.sleepy", inputs=[source.pk])
    wait(lambda: 0 < Job.objects.get(pk=run.job_id).progress_done < 40, 60, every=0.05)
    first.kill()

    stack["start"]("second")
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    run = _finished(run)

    assert run.job.status == JobStatus.SUCCEEDED and run.job.attempts == 2, run.job.log
    assert "lost (lease expired)" in run.job.log
    assert Dataset.objects.filter(layer="processed").count() == 1
    assert ProvenanceEvent.objects.filter(activity=Activity.PIPELINE).count() == 1
    assert _stored(run.output) == {"result.txt": b"slept well"}
    keys = list(layer_store("processed").list_keys(run.output.storage_prefix))
    assert len(keys) == 1
    # The worker that sealed it removed its staging (the killed one's is left on its disk).
    assert not (stack["tmp"] / "second-staging" / str(run.pk)).exists()
    assert (stack["tmp"] / "first-staging" / str(run.pk)).exists()
