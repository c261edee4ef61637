"""Export pages and API endpoints: each role, refusals as 404 with the reason, the schema."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import Dataset, ProvenanceEvent
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import ROLES
from lakeweb.jobs.models import Job

pytestmark = pytest.mark.django_db

PAGES = ["provenance:dataset_prov_json", "provenance:dataset_ro_crate", "provenance:dataset_bagit"]
ENDPOINTS = ["api:dataset_prov", "api:dataset_ro_crate", "api:dataset_bag"]
BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
READ = {"anonymous": 401, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
TYPES = {"prov": "application/json", "ro_crate": "application/zip", "bag": "application/zip"}


def kind(name: str) -> str:
    return name.split(":dataset_")[1].replace("prov_json", "prov").replace("bagit", "bag")


def counts() -> tuple[int, int, int]:
    return Dataset.objects.count(), ProvenanceEvent.objects.count(), Job.objects.count()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", PAGES)
def test_export_pages_per_role(client_for, member, role: str, name: str) -> None:
    dataset = upload_dataset(member)
    response = client_for(role).get(reverse(name, args=[dataset.pk]))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert response["Content-Type"] == TYPES[kind(name)]
        assert response["Content-Disposition"].startswith("attachment;")
        assert body(response)
    else:
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ENDPOINTS)
def test_export_endpoints_per_role(api_for, member, role: str, name: str) -> None:
    dataset = upload_dataset(member)
    response = api_for(role).get(reverse(name, args=[dataset.pk]))
    assert response.status_code == READ[role]
    if response.status_code == 200:
        assert response["Content-Type"] == TYPES[kind(name)]
        assert body(response)
    else:
        assert "credentials" in response.json()["detail"]


@pytest.mark.parametrize("name", PAGES)
def test_export_pages_refused_to_a_user_without_a_role(client, django_user_model, member, name):
    dataset = upload_dataset(member)
    client.force_login(django_user_model.objects.create_user(username="n", email="n@lab.example"))
    response = client.get(reverse(name, args=[dataset.pk]))
    assert response.status_code == 403 and "ask an admin" in response.content.decode()


@pytest.mark.parametrize("name", ENDPOINTS)
def test_export_endpoints_refused_to_a_user_without_a_role(django_user_model, member, name):
    from rest_framework.test import APIClient

    dataset = upload_dataset(member)
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user(username="n", email="n@x.y"))
    response = client.get(reverse(name, args=[dataset.pk]))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your account has no role yet: ask an admin to make you a viewer."
    }


@pytest.mark.parametrize("name", PAGES[1:])
def test_deleted_dataset_has_no_archive_and_nothing_is_stored(client_for, member, curator, name):
    processed = promote_dataset(upload_dataset(member), curator)
    services.dataset_delete(dataset=processed, user=curator)
    before = counts()
    response = client_for("viewer").get(reverse(name, args=[processed.pk]))
    assert response.status_code == 404
    assert "This dataset was deleted; its files are gone." in response.content.decode()
    assert counts() == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_unknown_deleted_or_malformed_ids_are_json_404s(api_for, member, curator, name):
    processed = promote_dataset(upload_dataset(member), curator)
    services.dataset_delete(dataset=processed, user=curator)
    client, before = api_for("viewer"), counts()
    for pk in (uuid.uuid4(), processed.pk):
        response = client.get(reverse(name, args=[pk]), HTTP_ACCEPT=TYPES[kind(name)])
        assert response.status_code == 404
        assert response.content == b'{"detail":"No ready dataset with this id."}'
    path = reverse(name, args=[processed.pk]).replace(str(processed.pk), "1%27%20OR%201=1")
    response = client.get(path)
    assert response.status_code == 404 and "ids are UUIDs" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize("name", PAGES)
def test_unknown_dataset_page_is_404_with_the_reason(client_for, name: str) -> None:
    response = client_for("viewer").get(reverse(name, args=[uuid.uuid4()]))
    assert response.status_code == 404 and "No such dataset." in response.content.decode()


def test_schema_documents_the_exports_and_their_refusals(api_for) -> None:
    schema = api_for("viewer").get(reverse("api:schema"), {"format": "json"}).json()
    for path, media in [
        ("/api/datasets/{id}/prov/", "application/json"),
        ("/api/datasets/{id}/ro-crate/", "application/zip"),
        ("/api/datasets/{id}/bag/", "application/zip"),
    ]:
        responses = schema["paths"][path]["get"]["responses"]
        assert media in responses["200"]["content"]
        assert {"401", "403", "404"} <= set(responses)
        assert "application/json" in responses["404"]["content"]


def test_dataset_page_offers_the_exports_next_to_the_zip(client_for, member, curator) -> None:
    dataset = upload_dataset(member)
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[dataset.pk]))
    html = page.content.decode()
    for name in ["catalog:dataset_zip", *PAGES]:
        assert f'href="{reverse(name, args=[dataset.pk])}"' in html
    processed = promote_dataset(dataset, curator)
    services.dataset_delete(dataset=processed, user=curator)
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[processed.pk]))
    assert reverse("provenance:dataset_bagit", args=[processed.pk]) not in page.content.decode()
