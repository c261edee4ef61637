"""Pipeline runs end to end in this process: provenance, email, run again, and every way
a run can fail leaving no dataset, no stored object and no staging behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail

from catalog.models import Activity, Dataset, DatasetStatus, ProvenanceEvent
from catalog.tests.factories import upload_dataset
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.registry import QUEUE_PIPELINES, kind_get
from lakeweb.jobs.services import job_cancel
from lakeweb.storage import layer_store
from provenance.models import PipelineRun
from provenance.pipelines.requests import RUN_KIND, pipeline_run_again, pipeline_run_request
from provenance.pipelines.runs import staging_dir
from provenance.pipelines.selectors import run_reproduction
from provenance.selectors import lineage_graph

from .conftest import CSV, png_not_really, run_now

pytestmark = pytest.mark.django_db


@pytest.fixture
def staging(settings, tmp_path: Path) -> Path:
    settings.PIPELINE_STAGING_DIR = tmp_path / "staging"
    settings.LAKEWEB_SITE_URL = "https://lake.lab.example"
    return settings.PIPELINE_STAGING_DIR


def _csv_run(user, dataset: Dataset, **kwargs) -> PipelineRun:
    return pipeline_run_request(
        user=user, pipeline="tables.csv_to_parquet", inputs=[dataset.pk], **kwargs
    )


def test_a_run_is_a_job_on_the_pipelines_queue_with_a_time_limit(member) -> None:
    run = _csv_run(member, upload_dataset(member, files={"a.csv": CSV}))
    assert run.job.kind == RUN_KIND and run.job.queue == QUEUE_PIPELINES == "pipelines"
    assert run.job.status == JobStatus.QUEUED
    assert kind_get(RUN_KIND).time_limit > 0
    assert run.job.parameters["run"] == str(run.pk)


def test_a_run_records_provenance_and_emails_its_requester(lake, staging, member) -> None:
    source = upload_dataset(member, files={"a.csv": CSV})
    run = run_now(_csv_run(member, source, parameters={"compression": "none"}))

    assert run.job.status == JobStatus.SUCCEEDED, run.job.log
    event = ProvenanceEvent.objects.get(activity=Activity.PIPELINE)
    assert event.dataset == run.output and list(event.used.all()) == [source]
    assert (event.source_layer, event.target_layer) == ("raw", "processed")
    parameters = event.parameters
    assert parameters["pipeline"] == "tables.csv_to_parquet" and parameters["version"] == "1.0"
    assert len(parameters["code_digest"]) == 64
    assert parameters["params"] == {"delimiter": "auto", "compression": "none"}
    assert parameters["inputs"] == [
        {"id": str(source.pk), "manifest_digest": source.manifest_digest}
    ]
    assert parameters["software"]["pyarrow"] == "26.0.1" and "python" in parameters["software"]
    assert parameters["outcome"] == "succeeded"
    assert parameters["started"] <= parameters["ended"]
    assert run.job.result["manifest_digest"] == run.output.manifest_digest
    assert not staging_dir(run).exists()

    [message] = mail.outbox
    assert message.to == ["member@lab.example"] and "succeeded" in message.subject
    assert f"https://lake.lab.example/provenance/runs/{run.pk}/" in message.body


def test_run_again_makes_a_new_dataset_with_the_same_manifest_digest(lake, staging, member) -> None:
    source = upload_dataset(member, files={"a.csv": CSV, "b.csv": CSV})
    first = run_now(_csv_run(member, source))
    again = run_now(pipeline_run_again(run=first, user=member))

    assert again.job.status == JobStatus.SUCCEEDED, again.job.log
    assert again.output != first.output
    assert again.reproduces == first and again.parameters == first.parameters
    assert again.output.manifest_digest == first.output.manifest_digest
    reproduction = run_reproduction(run=again)
    assert reproduction is not None and reproduction.same
    assert Dataset.objects.filter(layer="processed", status=DatasetStatus.READY).count() == 2


def test_a_live_run_cannot_be_run_again(member) -> None:
    from lakeweb.errors import ActionRefused

    run = _csv_run(member, upload_dataset(member, files={"a.csv": CSV}))
    with pytest.raises(ActionRefused, match="not ended yet"):
        pipeline_run_again(run=run, user=member)
    assert PipelineRun.objects.count() == 1


def _assert_nothing_left(run: PipelineRun, reason: str) -> None:
    assert run.job.status == JobStatus.FAILED
    assert reason in run.job.error and reason in run.job.log
    assert not Dataset.objects.filter(layer__in=["processed", "curated"], status="ready").exists()
    if run.output is not None:
        run.output.refresh_from_db()
        assert run.output.status == DatasetStatus.FAILED
        assert list(layer_store(run.output.layer).list_keys(run.output.storage_prefix)) == []
    assert not staging_dir(run).exists()
    event = ProvenanceEvent.objects.get(activity=Activity.PIPELINE)
    assert event.dataset is None and event.parameters["outcome"] == "failed"
    assert event.used.count() == 0 and event.parameters["inputs"] == [
        {"id": item["id"], "manifest_digest": item["manifest_digest"]} for item in run.inputs
    ]
    source = Dataset.objects.get(pk=run.inputs[0]["id"])
    assert lineage_graph(dataset=source)["edges"] == []  # a failed run adds no edge
    [message] = mail.outbox
    assert "failed" in message.subject and reason in message.body


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("lab.raises", "ValueError: the instrument file has no header"),
        ("lab.slow", "ran past the pipeline's time limit of 1 s"),
        ("lab.escapes", "the pipeline wrote a path lakeweb refuses"),
    ],
)
def test_a_failing_pipeline_fails_its_run_and_leaves_nothing(
    lake, staging, lab_pipelines, member, name, reason
) -> None:
    source = upload_dataset(member)
    run = run_now(pipeline_run_request(user=member, pipeline=name, inputs=[source.pk]))
    _assert_nothing_left(run, reason)
    assert run.job.attempts == 1  # a pipeline's own failure is not retried


def test_a_pipeline_that_writes_nothing_fails(staging, member) -> None:
    source = upload_dataset(member, files={"notes.txt": b"no table"})
    run = run_now(_csv_run(member, source))
    _assert_nothing_left(run, "no CSV or TSV file")


def test_a_broken_table_fails_the_run_with_the_file_named(staging, member) -> None:
    source = upload_dataset(member, files={"bad.csv": b"a,b\n1,2\n3,4,5,6\n"})
    run = run_now(_csv_run(member, source))
    _assert_nothing_left(run, "bad.csv is not a table pyarrow can read")


def test_a_queued_run_cancelled_never_runs(staging, member) -> None:
    run = _csv_run(member, upload_dataset(member, files={"a.csv": CSV}))
    job_cancel(job=run.job, user=member)
    run = run_now(run)
    assert run.job.status == JobStatus.CANCELLED and run.output is None
    assert ProvenanceEvent.objects.get(activity=Activity.PIPELINE).parameters["outcome"] == (
        "cancelled"
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_running_run_cancelled_stops_and_leaves_nothing(
    settings, staging, lab_pipelines, member
) -> None:
    settings.JOBS_LEASE_SECONDS = 1  # the lease thread looks for a cancel every 0.25 s
    source = upload_dataset(member)
    run = pipeline_run_request(user=member, pipeline="lab.cancels_itself", inputs=[source.pk])
    run = run_now(run)
    assert run.job.status == JobStatus.CANCELLED, run.job.log
    assert run.output is None and not staging_dir(run).exists()
    assert not Dataset.objects.filter(layer="processed").exists()


def test_a_lab_registers_its_own_pipeline_through_the_setting(lab_pipelines, member) -> None:
    from provenance.pipelines.registry import pipeline_get

    spec = pipeline_get("lab.count_bytes")
    assert spec.version == "2.1" and spec.module == "provenance.tests.lab_pipelines"
    import hashlib
    import inspect
    import sys

    source = inspect.getsource(sys.modules[spec.module]).encode()
    assert spec.code_digest == hashlib.sha256(source).hexdigest()
    run = run_now(
        pipeline_run_request(user=member, pipeline=spec.name, inputs=[upload_dataset(member).pk])
    )
    assert run.job.status == JobStatus.SUCCEEDED, run.job.log
    assert list(run.output.files.values_list("path", flat=True)) == ["bytes.tsv"]


def test_a_broken_image_fails_the_run_with_the_file_named(staging, member) -> None:
    source = upload_dataset(member, files={"scans/broken.png": png_not_really()})
    run = pipeline_run_request(user=member, pipeline="images.previews", inputs=[source.pk])
    _assert_nothing_left(run_now(run), "scans/broken.png is not an image that can be read")


def test_an_input_that_changed_after_the_request_fails_the_run(staging, member) -> None:
    source = upload_dataset(member, files={"a.csv": CSV})
    run = _csv_run(member, source)
    Dataset.objects.filter(pk=source.pk).update(manifest_digest="0" * 64)
    _assert_nothing_left(run_now(run), "changed since the run was asked for")
