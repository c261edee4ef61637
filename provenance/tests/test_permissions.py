"""Who may run pipelines, see runs, run again and cancel: each role, page and API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.tests.factories import upload_dataset
from conftest import ROLES
from provenance.models import PipelineRun
from provenance.pipelines.requests import pipeline_run_request

from .conftest import CSV, run_now

pytestmark = pytest.mark.django_db

START_PAGE = {"anonymous": 302, "viewer": 403, "member": 200, "curator": 200, "admin": 200}
BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
API_BROWSE = {"anonymous": 401, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
API_REFUSED = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 403, "admin": 403}
# Onto processed: members and up; onto curated: curators and admins.
API_START = {
    ("anonymous", "processed"): 401,
    ("viewer", "processed"): 403,
    ("member", "processed"): 202,
    ("curator", "processed"): 202,
    ("admin", "processed"): 202,
    ("anonymous", "curated"): 401,
    ("viewer", "curated"): 403,
    ("member", "curated"): 403,
    ("curator", "curated"): 202,
    ("admin", "curated"): 202,
}


@pytest.fixture
def raw(member):
    return upload_dataset(member, files={"a.csv": CSV})


@pytest.fixture
def finished(member, raw) -> PipelineRun:
    return run_now(
        pipeline_run_request(
            user=member, pipeline="files.filter", inputs=[raw.pk], parameters={"include": "*"}
        )
    )


@pytest.mark.parametrize(("role", "layer"), sorted(API_START))
def test_api_start_a_run_by_role_and_layer(api_for, raw, role, layer) -> None:
    body = {
        "pipeline": "files.filter",
        "inputs": [str(raw.pk)],
        "parameters": {"include": "*.csv"},
        "target_layer": layer,
    }
    response = api_for(role).post("/api/pipelines/runs/", body, format="json")
    assert response.status_code == API_START[role, layer], response.content
    assert PipelineRun.objects.count() == (1 if response.status_code == 202 else 0)
    if response.status_code == 403 and role != "anonymous":
        assert "Only" in response.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
def test_page_start_a_run_by_role(client_for, raw, role) -> None:
    client = client_for(role)
    url = reverse("provenance:pipeline_start", args=[raw.pk])
    assert client.get(url).status_code == START_PAGE[role]
    response = client.post(
        url, {"pipeline": "files.filter", "target_layer": "processed", "param-include": "*.csv"}
    )
    allowed = START_PAGE[role] == 200
    assert response.status_code == (302 if allowed else START_PAGE[role])
    assert PipelineRun.objects.count() == (1 if allowed else 0)
    if allowed:
        assert response["Location"] == reverse(
            "provenance:pipeline_run", args=[PipelineRun.objects.get().pk]
        )


@pytest.mark.parametrize("role", ROLES)
def test_page_curated_runs_only_for_curators_and_admins(client_for, raw, role) -> None:
    url = reverse("provenance:pipeline_start", args=[raw.pk])
    response = client_for(role).post(
        url, {"pipeline": "files.filter", "target_layer": "curated", "param-include": "*"}
    )
    made = PipelineRun.objects.filter(target_layer="curated").count()
    assert made == (1 if role in ("curator", "admin") else 0)
    assert response.status_code in (302, 400, 403)


@pytest.mark.parametrize("role", ROLES)
def test_run_page_and_api_by_role(client_for, api_for, finished, role) -> None:
    response = client_for(role).get(reverse("provenance:pipeline_run", args=[finished.pk]))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        page = response.content.decode()
        assert "succeeded" in page and finished.output.name in page
        assert ("Run again" in page) == (role != "viewer")
    api = api_for(role).get(f"/api/pipelines/runs/{finished.pk}/")
    assert api.status_code == API_BROWSE[role]
    if api.status_code == 200:
        assert api.json()["status"] == "succeeded" and api.json()["output"] == str(
            finished.output.pk
        )


@pytest.mark.parametrize("role", ROLES)
def test_pipeline_list_by_role(api_for, role) -> None:
    response = api_for(role).get("/api/pipelines/")
    assert response.status_code == API_BROWSE[role]
    if response.status_code == 200:
        names = {item["name"] for item in response.json()}
        assert {"tables.csv_to_parquet", "images.previews", "files.filter"} <= names


@pytest.mark.parametrize("role", ROLES)
def test_run_again_by_role_page_and_api(client_for, api_for, finished, role) -> None:
    allowed = role in ("member", "curator", "admin")
    page = client_for(role).post(reverse("provenance:pipeline_run_again", args=[finished.pk]))
    assert page.status_code == (302 if allowed else START_PAGE[role])
    api = api_for(role).post(f"/api/pipelines/runs/{finished.pk}/again/")
    assert api.status_code == (202 if allowed else API_REFUSED[role])
    assert PipelineRun.objects.filter(reproduces=finished).count() == (2 if allowed else 0)


@pytest.mark.parametrize("role", ROLES)
def test_cancel_by_role_only_the_requester_and_staff(
    client_for, api_for, member, raw, role
) -> None:
    run = pipeline_run_request(
        user=member, pipeline="files.filter", inputs=[raw.pk], parameters={"include": "*"}
    )
    allowed = role in ("member", "admin")  # the member asked for it; admins are staff
    response = api_for(role).post(f"/api/pipelines/runs/{run.pk}/cancel/")
    assert response.status_code == (200 if allowed else API_REFUSED[role]), response.content
    run.job.refresh_from_db()
    assert (run.job.status == "cancelled") == allowed
    page = client_for(role).post(reverse("provenance:pipeline_run_cancel", args=[run.pk]))
    assert page.status_code in ((302,) if allowed or role == "anonymous" else (403,))


def test_the_dataset_page_offers_a_run_to_members_not_viewers(client_for, raw) -> None:
    url = reverse("catalog:dataset_detail", args=[raw.pk])
    start = reverse("provenance:pipeline_start", args=[raw.pk])
    assert start in client_for("member").get(url).content.decode()
    assert start not in client_for("viewer").get(url).content.decode()


def test_run_again_page_says_the_digest_is_the_same(client_for, member, finished) -> None:
    client = client_for("member")
    response = client.post(reverse("provenance:pipeline_run_again", args=[finished.pk]))
    again = PipelineRun.objects.get(reproduces=finished)
    run_now(again)
    page = client.get(response["Location"]).content.decode()
    assert (
        "Reproduced: the new dataset&#x27;s manifest digest equals" in page
        or "Reproduced: the new dataset's manifest digest equals" in page
    )
    assert client.get(f"/api/pipelines/runs/{again.pk}/").json()["same_as_reproduced"] is True
