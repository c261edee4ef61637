"""Pipeline runs in Django admin: listed with what ran on what, filtered and searched; a
record, so never added, changed or deleted there; staff only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from catalog.tests.factories import upload_dataset
from lakeweb.admin import RecordAdmin
from lakeweb.jobs.models import JobStatus
from provenance.models import PipelineRun
from provenance.pipelines.requests import pipeline_run_request

from .conftest import CSV, run_now

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:provenance_pipelinerun_changelist"


@pytest.fixture
def runs(settings, tmp_path, member, curator) -> dict[str, PipelineRun]:
    """A run that succeeded (a member's) and one still queued (a curator's), on other data."""
    settings.PIPELINE_STAGING_DIR = tmp_path / "staging"
    tables = upload_dataset(member, files={"counts.csv": CSV}, name="Plate reader counts")
    done = run_now(
        pipeline_run_request(user=member, pipeline="tables.csv_to_parquet", inputs=[tables.pk])
    )
    assert done.job.status == JobStatus.SUCCEEDED, done.job.log
    images = upload_dataset(curator, files={"notes.txt": b"x"}, name="Confocal stack")
    queued = pipeline_run_request(
        user=curator,
        pipeline="files.filter",
        inputs=[images.pk],
        parameters={"include": "*.txt"},
        target_layer="curated",
    )
    return {"done": done, "queued": queued}


def _rows(response) -> str:
    return response.content.decode()


def test_the_list_shows_pipeline_version_status_requester_inputs_output_and_times(
    client_for, runs
) -> None:
    response = client_for("admin").get(reverse(CHANGELIST))
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert {run.pk for run in changelist.result_list} == {r.pk for r in runs.values()}
    page = _rows(response)
    done = runs["done"]
    assert done.output is not None
    for shown in (
        "tables.csv_to_parquet",
        "files.filter",
        "1.0",
        "succeeded",
        "queued",
        done.requested_by.username,
        "Plate reader counts",
        "Confocal stack",
        done.output.name,
    ):
        assert shown in page, shown
    for column in ("created_at", "started_at", "ended_at", "status", "input_names", "output"):
        assert f"column-{column}" in page, column


def test_the_list_filters_by_status_and_pipeline_and_searches(client_for, runs) -> None:
    client = client_for("admin")

    def listed(**query: str) -> set:
        response = client.get(reverse(CHANGELIST), query)
        assert response.status_code == 200
        return {run.pk for run in response.context["cl"].result_list}

    assert listed(job__status__exact="succeeded") == {runs["done"].pk}
    assert listed(pipeline_name="files.filter") == {runs["queued"].pk}
    assert listed(target_layer="curated") == {runs["queued"].pk}
    assert listed(q="Plate reader counts") == {runs["done"].pk}  # the output's name
    assert listed(q=runs["queued"].requested_by.email) == {runs["queued"].pk}
    assert listed(q=str(runs["done"].pk)) == {runs["done"].pk}


def test_a_run_shows_read_only_and_cannot_be_added_changed_or_deleted(
    client_for, users, runs
) -> None:
    run = runs["done"]
    client = client_for("admin")
    shown = client.get(reverse("admin:provenance_pipelinerun_change", args=[run.pk]))
    assert shown.status_code == 200 and run.code_digest in _rows(shown)
    assert 'type="submit"' not in _rows(shown).split('id="content-main"')[1]  # no Save
    assert client.get(reverse("admin:provenance_pipelinerun_add")).status_code == 403
    deleted = client.post(
        reverse("admin:provenance_pipelinerun_delete", args=[run.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert PipelineRun.objects.filter(pk=run.pk).exists()

    model_admin = admin.site._registry[PipelineRun]
    request = RequestFactory().get("/")
    request.user = users["admin"]
    assert isinstance(model_admin, RecordAdmin)
    assert not model_admin.has_change_permission(request, run)
    assert not model_admin.has_delete_permission(request, run)


@pytest.mark.parametrize("role", ["viewer", "member", "curator"])
def test_the_list_is_refused_to_everyone_but_staff(client_for, runs, role) -> None:
    response = client_for(role).get(reverse(CHANGELIST))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
