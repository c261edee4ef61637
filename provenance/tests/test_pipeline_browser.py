"""A pipeline run in a real Chromium, carried out by a real Celery worker on the ``pipelines``
queue over Redis, with PostgreSQL and S3 over HTTP (moto in another process).

A member opens a raw dataset of CSV, starts tables.csv_to_parquet onto
processed with a parameter, watches the run's page update itself from queued
to succeeded (the worker starts only once the page shows the run queued), and
follows the link to the new dataset. A parameter the pipeline does not take
is refused in the form and makes no run. ``chromium_page`` (conftest.py)
fails a test on any CSP violation or uncaught error in a page.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.urls import reverse

from catalog.models import Dataset, DatasetStatus
from catalog.tests.factories import upload_dataset
from conftest import read_object
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job
from lakeweb.storage import layers_ensure
from lakeweb.tests.stack import Worker, require_stack, worker_env
from lakeweb.tests.test_browser import _login
from provenance.models import PipelineRun

from .conftest import CSV

pytestmark = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
TABLES = "tables.csv_to_parquet"


@pytest.fixture
def start_worker(s3_lake, tmp_path: Path) -> Iterator[Callable[[], Worker]]:
    """Starts, when called, a worker consuming only the pipelines queue, as compose runs one."""
    require_stack()
    celery_app.control.purge()
    workers: list[Worker] = []

    def start() -> Worker:
        env = worker_env(
            s3_lake,
            tmp_path / "worker-data",
            PIPELINE_STAGING_DIR=str(tmp_path / "staging"),
            EMAIL_URL=f"filemail:///{tmp_path / 'mail'}",  # four slashes: an absolute path
        )
        worker = Worker(env, tmp_path / "worker.log", queues="pipelines")
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
    celery_app.control.purge()


@pytest.fixture
def plates(s3_lake, member) -> Dataset:
    layers_ensure()
    files = {"plates/counts.csv": CSV, "plates/readme.txt": b"Plate reader, run 7"}
    return upload_dataset(member, files=files, name="Plate reader run 7")


def _start_page(page, base: str, dataset: Dataset) -> None:
    """From the dataset's page to the start form of the tables pipeline."""
    page.goto(base + reverse("catalog:dataset_detail", args=[dataset.pk]))
    page.click("text=Run a pipeline")
    page.wait_for_url(base + reverse("provenance:pipeline_start", args=[dataset.pk]))
    page.select_option("#choose-pipeline", TABLES)
    page.click("button:text-is('Choose')")
    page.wait_for_selector(f"h2:has-text('{TABLES}')")


def test_a_member_runs_csv_to_parquet_and_follows_the_run_to_its_dataset(
    chromium_page, live_server, member, plates, start_worker
) -> None:
    page, base = chromium_page, live_server.url
    _login(page, base, member)
    _start_page(page, base, plates)
    page.select_option("select[name=target_layer]", "processed")
    page.select_option("select[name=param-delimiter]", "comma")
    page.select_option("select[name=param-compression]", "none")
    page.click("button:text-is('Run')")

    run = PipelineRun.objects.get()
    page.wait_for_url(base + reverse("provenance:pipeline_run", args=[run.pk]))
    assert page.inner_text("#run-status") == "queued"  # no worker yet
    assert "none yet — into processed" in page.content()
    assert run.parameters == {"delimiter": "comma", "compression": "none"}
    assert run.requested_by == member and run.target_layer == "processed"

    worker = start_worker()
    # The page refreshes itself while the run is unfinished; the test never reloads it.
    page.wait_for_selector("#run-status:text-is('succeeded')", timeout=120_000)
    log = page.inner_text("#run-log")
    assert "plates/counts.csv: 3 rows, 4 columns" in log
    assert f":{worker.process.pid}:" in Job.objects.get(pk=run.job_id).log  # that worker ran it
    assert "2 of 2" in page.inner_text("dl")  # progress: both files stored

    page.click("#run-output")
    run.refresh_from_db()
    output = run.output
    assert output is not None and output.status == DatasetStatus.READY
    page.wait_for_url(base + reverse("catalog:dataset_detail", args=[output.pk]))
    heading = page.inner_text("h1")
    assert output.name in heading and "processed" in heading
    stored = {f.path: f for f in output.files.all()}
    assert sorted(stored) == ["plates/counts.parquet", "plates/counts.schema.json"]
    parquet = stored["plates/counts.parquet"]
    table = pq.read_table(io.BytesIO(read_object("processed", parquet.storage_key)))
    assert table.num_rows == 3 and table.column_names == ["sample", "count", "ratio", "note"]


def test_a_parameter_the_pipeline_does_not_take_is_a_form_error_and_no_run(
    chromium_page, live_server, member, plates
) -> None:
    page, base = chromium_page, live_server.url
    _login(page, base, member)
    _start_page(page, base, plates)
    # A value the select does not offer, as a forged or stale form sends it.
    page.evaluate(
        "() => { const s = document.querySelector('select[name=param-delimiter]');"
        " s.add(new Option('pipe', 'pipe')); s.value = 'pipe'; }"
    )
    page.click("button:text-is('Run')")

    page.wait_for_selector("text=Select a valid choice. pipe is not one of the available choices.")
    assert page.url.startswith(base + reverse("provenance:pipeline_start", args=[plates.pk]))
    assert PipelineRun.objects.count() == 0 and Job.objects.count() == 0
