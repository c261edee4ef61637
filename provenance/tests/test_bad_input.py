"""Bad input to a run, by the API and the page: a clear 4xx, and no run or job stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.urls import reverse

from catalog.models import Dataset, DatasetStatus
from catalog.tests.factories import promote_dataset, upload_dataset
from lakeweb.jobs.models import Job
from provenance.models import PipelineRun

from .conftest import CSV

pytestmark = pytest.mark.django_db

URL = "/api/pipelines/runs/"


@pytest.fixture
def raw(member) -> Dataset:
    return upload_dataset(member, files={"a.csv": CSV, "img.png": b"x"})


@pytest.fixture
def nothing_stored() -> Iterator[None]:
    before = (PipelineRun.objects.count(), Job.objects.count(), Dataset.objects.count())
    yield
    assert (PipelineRun.objects.count(), Job.objects.count(), Dataset.objects.count()) == before


def _post(api_for, body, role: str = "member"):
    return api_for(role).post(URL, body, format="json")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"pipeline": "tables.nope"}, "There is no pipeline 'tables.nope'; registered:"),
        (
            {"parameters": {"max_size": "big"}},
            "Largest preview side (pixels): Enter a whole number.",
        ),
        ({"parameters": {"max_size": 5}}, "greater than or equal to 16"),
        ({"parameters": {"max_size": 99999}}, "less than or equal to 4096"),
        ({"parameters": {"colour": "red"}}, "'colour' is not a parameter of images.previews"),
        ({"parameters": {"max_size": [1, 2]}}, "max_size: a single value"),
        ({"parameters": {"max_size": {"a": 1}}}, "max_size: a single value"),
        ({"target_layer": "raw"}, "images.previews writes to processed, curated, not to 'raw'"),
        ({"target_layer": "archive"}, "not to 'archive'"),
        ({"inputs": []}, "inputs"),
        ({"inputs": ["not-a-uuid"]}, "'not-a-uuid' is not a dataset id."),
        ({"inputs": [str(uuid.UUID(int=0))]}, f"There is no dataset {uuid.UUID(int=0)}."),
        ({"inputs": [str(uuid.UUID(int=n)) for n in range(21)]}, "inputs"),
        ({"pipeline": "x" * 101}, "pipeline"),
        ({"parameters": "max_size=3"}, "parameters"),
    ],
)
def test_bad_run_requests_get_a_400_that_says_why_and_store_nothing(
    api_for, raw, nothing_stored, body, message
) -> None:
    request = {"pipeline": "images.previews", "inputs": [str(raw.pk)], **body}
    response = _post(api_for, request)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]


def test_the_same_input_twice_is_refused(api_for, raw, nothing_stored) -> None:
    response = _post(api_for, {"pipeline": "files.filter", "inputs": [str(raw.pk)] * 2})
    assert response.status_code == 400 and "given twice" in response.json()["detail"]


def test_an_input_not_ready_is_refused(api_for, member, raw, nothing_stored) -> None:
    Dataset.objects.filter(pk=raw.pk).update(status=DatasetStatus.UPLOADING)
    response = _post(api_for, {"pipeline": "files.filter", "inputs": [str(raw.pk)]})
    assert response.status_code == 400
    assert "is uploading: only ready datasets can be used" in response.json()["detail"]


def test_a_pipeline_on_a_layer_it_does_not_read_is_refused(
    api_for, member, raw, lab_pipelines
) -> None:
    processed = promote_dataset(raw, member)
    before = (PipelineRun.objects.count(), Job.objects.count())
    response = _post(api_for, {"pipeline": "lab.count_bytes", "inputs": [str(processed.pk)]})
    assert response.status_code == 400
    assert "is in processed; lab.count_bytes reads raw only." in response.json()["detail"]
    assert (PipelineRun.objects.count(), Job.objects.count()) == before


def test_a_parameter_against_its_pattern_is_refused(
    api_for, raw, lab_pipelines, nothing_stored
) -> None:
    body = {"pipeline": "lab.count_bytes", "inputs": [str(raw.pk)], "parameters": {"label": "A B"}}
    response = _post(api_for, body)
    assert response.status_code == 400 and "Must match the pattern" in response.json()["detail"]


def test_a_body_that_is_not_json_is_refused(api_for, raw, nothing_stored) -> None:
    response = api_for("member").post(URL, "pipeline=files.filter", content_type="text/plain")
    assert response.status_code == 415


def test_the_page_shows_bad_parameters_beside_the_form_and_stores_nothing(
    client_for, raw, nothing_stored
) -> None:
    url = reverse("provenance:pipeline_start", args=[raw.pk])
    response = client_for("member").post(
        url, {"pipeline": "images.previews", "target_layer": "processed", "param-max_size": "7"}
    )
    assert response.status_code == 400
    assert "greater than or equal to 16" in response.content.decode()


def test_the_page_refuses_curated_to_a_member_with_the_reason(
    client_for, raw, nothing_stored
) -> None:
    url = reverse("provenance:pipeline_start", args=[raw.pk])
    response = client_for("member").post(
        url, {"pipeline": "images.previews", "target_layer": "curated", "param-max_size": "64"}
    )
    assert response.status_code == 400
    assert "Only curators can run pipelines onto curated." in response.content.decode()


def test_the_page_of_a_dataset_not_ready_is_404(client_for, raw, nothing_stored) -> None:
    Dataset.objects.filter(pk=raw.pk).update(status=DatasetStatus.FAILED)
    response = client_for("member").get(reverse("provenance:pipeline_start", args=[raw.pk]))
    assert response.status_code == 404
