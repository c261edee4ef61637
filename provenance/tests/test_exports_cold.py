"""Exports of a dataset in the archive's cold tier: refused before the first byte, on the page
(the message and Request restore) and in the API (JSON 409), on the folder store and on S3
over HTTP; once restored they are whole."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.urls import reverse

from catalog.models import ColdRestore, Dataset
from catalog.services import cold_restores_watch, dataset_restore_request
from catalog.tests.factories import FILES, archive_dataset
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import job_run

pytestmark = pytest.mark.django_db

PAGES = ["provenance:dataset_ro_crate", "provenance:dataset_bagit"]
ENDPOINTS = ["api:dataset_ro_crate", "api:dataset_bag"]
README = "run1/notes/readme.txt"


@pytest.fixture
def cold(settings, lake, member, curator) -> Dataset:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_FS_THAW_SECONDS = 0
    dataset = archive_dataset(member, curator)
    assert dataset.storage_class == "GLACIER"
    return dataset


def _stored() -> tuple[int, int]:
    return Job.objects.count(), ColdRestore.objects.count()


def _readme(response) -> bytes:
    """The readme's bytes in an export (a bag holds its payload under ``<bag>/data/``)."""
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    (name,) = [n for n in archive.namelist() if n.endswith(f"data/{README}")]
    return archive.read(name)


@pytest.mark.parametrize("name", PAGES)
def test_an_export_page_of_a_cold_dataset_says_why_and_offers_a_restore(
    cold, client_for, name
) -> None:
    before = _stored()
    response = client_for("member").get(reverse(name, args=[cold.pk]))  # the owner

    assert response.status_code == 409 and not response.streaming
    page = response.content.decode()
    assert "cold storage (GLACIER)" in page and "cannot be downloaded, zipped" in page
    assert "Request restore" in page
    assert reverse("catalog:dataset_restore", args=[cold.pk]) in page
    assert _stored() == before


@pytest.mark.parametrize("name", PAGES)
def test_a_viewer_is_told_who_may_ask_for_a_restore(cold, client_for, name) -> None:
    response = client_for("viewer").get(reverse(name, args=[cold.pk]))
    assert response.status_code == 409
    page = response.content.decode()
    assert "cold storage (GLACIER)" in page and "Request restore</button>" not in page
    assert "Curators, and members for their own datasets, can request a restore." in page


@pytest.mark.parametrize("name", ENDPOINTS)
def test_an_export_endpoint_of_a_cold_dataset_is_a_json_409(cold, api_for, name) -> None:
    before = _stored()
    response = api_for("viewer").get(reverse(name, args=[cold.pk]))

    assert response.status_code == 409 and not response.streaming
    assert response["Content-Type"].startswith("application/json")
    assert "cold storage (GLACIER)" in response.json()["detail"]
    assert _stored() == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_while_a_restore_is_under_way_the_refusal_says_how_far_it_is(
    cold, api_for, member, name
) -> None:
    restore = dataset_restore_request(dataset=cold, user=member)
    job_run(job_id=restore.job_id)  # asked; the watch has not looked yet

    response = api_for("member").get(reverse(name, args=[cold.pk]))
    assert response.status_code == 409
    assert "a restore is under way (0 of 3 files readable)" in response.json()["detail"]


def test_the_prov_json_of_a_cold_dataset_still_reads(cold, client_for, api_for) -> None:
    # Lineage only, no stored bytes: nothing to thaw.
    page = client_for("viewer").get(reverse("provenance:dataset_prov_json", args=[cold.pk]))
    assert page.status_code == 200 and str(cold.pk) in page.content.decode()
    response = api_for("viewer").get(reverse("api:dataset_prov", args=[cold.pk]))
    assert response.status_code == 200 and str(cold.pk) in response.content.decode()
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[cold.pk]))
    assert "PROV-JSON" in page.content.decode() and "BagIt bag</a>" not in page.content.decode()


def test_once_restored_every_export_holds_every_file(cold, client_for, api_for, member) -> None:
    restore = dataset_restore_request(dataset=cold, user=member)
    job_run(job_id=restore.job_id)
    assert cold_restores_watch()["ready"] == 1

    for name in PAGES:
        got = _readme(client_for("viewer").get(reverse(name, args=[cold.pk])))
        assert got == FILES[README], name
    for name in ENDPOINTS:
        got = _readme(api_for("viewer").get(reverse(name, args=[cold.pk])))
        assert got == FILES[README], name
