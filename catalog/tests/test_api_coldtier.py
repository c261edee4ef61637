"""The cold tier through the API: restore requests per role, refusals as JSON."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import ColdRestore, Dataset, Layer
from conftest import ROLES
from lakeweb.jobs.models import Job

from .factories import upload_dataset

pytestmark = pytest.mark.django_db

RESTORE = {"anonymous": 401, "viewer": 403, "member": 202, "curator": 202, "admin": 202}
READ = {"anonymous": 401, "viewer": 409, "member": 409, "curator": 409, "admin": 409}


@pytest.fixture
def cold_row(member) -> Dataset:
    dataset = upload_dataset(member)
    Dataset.objects.filter(pk=dataset.pk).update(layer=Layer.ARCHIVE, storage_class="GLACIER")
    dataset.refresh_from_db()
    return dataset


@pytest.mark.parametrize("role", ROLES)
def test_api_restore_permissions(api_for, cold_row, role: str) -> None:
    response = api_for(role).post(reverse("api:dataset_restore", args=[cold_row.pk]))
    assert response.status_code == RESTORE[role]
    asked = RESTORE[role] == 202
    assert ColdRestore.objects.filter(dataset=cold_row).exists() == asked
    if asked:
        body = response.json()
        assert (body["state"], body["storage_class"], body["files_total"]) == (
            "requested",
            "GLACIER",
            3,
        )
        assert Job.objects.get(kind="cold_restore").pk.hex == body["job"].replace("-", "")
    else:
        assert "detail" in response.json()


@pytest.mark.parametrize("role", ROLES)
def test_api_download_of_a_cold_file_is_refused(api_for, cold_row, role: str) -> None:
    datafile = cold_row.files.first()
    url = reverse("api:datafile_download", args=[cold_row.pk, datafile.pk])
    response = api_for(role).get(url)
    assert response.status_code == READ[role]
    if response.status_code == 409:
        assert "cold storage (GLACIER)" in response.json()["detail"]


def test_api_restore_of_a_dataset_not_in_cold_storage_is_a_409(api_for, member) -> None:
    dataset = upload_dataset(member)
    jobs = Job.objects.count()
    response = api_for("curator").post(reverse("api:dataset_restore", args=[dataset.pk]))
    assert response.status_code == 409
    assert "not in cold storage" in response.json()["detail"]
    assert not ColdRestore.objects.exists()
    assert Job.objects.count() == jobs


def test_api_second_restore_is_a_409_and_stores_nothing(api_for, cold_row) -> None:
    client = api_for("curator")
    url = reverse("api:dataset_restore", args=[cold_row.pk])
    assert client.post(url).status_code == 202
    response = client.post(url)
    assert response.status_code == 409
    assert "already under way" in response.json()["detail"]
    assert ColdRestore.objects.count() == 1
    assert Job.objects.filter(kind="cold_restore").count() == 1


def test_api_dataset_detail_says_its_storage_class(api_for, cold_row) -> None:
    body = api_for("viewer").get(reverse("api:dataset_detail", args=[cold_row.pk])).json()
    assert body["storage_class"] == "GLACIER"
