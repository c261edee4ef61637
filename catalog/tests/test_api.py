from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import Dataset, DatasetStatus, Promotion
from conftest import ROLES
from lakeweb.tokens.services import api_token_create

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

READ = {"anonymous": 401, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
PROMOTE_RAW = {"anonymous": 401, "viewer": 403, "member": 202, "curator": 202, "admin": 202}
PROMOTE_ONWARD = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 202, "admin": 202}
DELETE = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 204, "admin": 204}
INJECTION = "'; DROP TABLE catalog_dataset; --"


@pytest.fixture
def dataset(member) -> Dataset:
    return upload_dataset(member)


@pytest.fixture
def processed(dataset, member) -> Dataset:
    return promote_dataset(dataset, member)


def detail_url(dataset: Dataset) -> str:
    return reverse("api:dataset_detail", args=[dataset.pk])


def promote_url(dataset: Dataset) -> str:
    return reverse("api:dataset_promote", args=[dataset.pk])


def read_urls(dataset: Dataset) -> list[str]:
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    return [
        reverse("api:dataset_list"),
        reverse("api:stats"),
        detail_url(dataset),
        reverse("api:dataset_files", args=[dataset.pk]),
        reverse("api:datafile_download", args=[dataset.pk, datafile.pk]),
    ]


# --- permissions per role -----------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_read_endpoints_per_role(api_for, dataset, role: str) -> None:
    for url in read_urls(dataset):
        response = api_for(role).get(url)
        assert response.status_code == READ[role], url
        if response.status_code == 401:
            assert response.json()["detail"] == "Authentication credentials were not provided."
            assert response["WWW-Authenticate"] == "Token"


def test_anonymous_is_not_redirected_to_the_login_page(client, dataset) -> None:
    response = client.get(reverse("api:dataset_list"))
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_public_browsing_lets_anonymous_read_but_not_write(api_for, settings, dataset) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    for url in read_urls(dataset):
        assert api_for("anonymous").get(url).status_code == 200, url
    response = api_for("anonymous").post(promote_url(dataset), {}, format="json")
    assert response.status_code == 401
    assert not Promotion.objects.exists()


def test_user_without_a_role_is_refused_with_a_reason(django_user_model, dataset) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client = APIClient()
    client.force_authenticate(nobody)
    response = client.get(reverse("api:dataset_list"))
    assert response.status_code == 403
    assert "ask an admin" in response.json()["detail"]


@pytest.mark.parametrize("role", ROLES)
def test_promote_raw_per_role(api_for, dataset, role: str) -> None:
    response = api_for(role).post(promote_url(dataset), {"target_layer": "processed"})
    assert response.status_code == PROMOTE_RAW[role]
    if response.status_code == 202:
        promotion = Promotion.objects.get()
        body = response.json()
        assert body == {
            "id": str(promotion.pk),
            "job": str(promotion.job_id),
            "source": str(dataset.pk),
            "target_layer": "processed",
            "target": None,
            "status": "queued",
            "files_done": 0,
            "error": "",
            "created_at": body["created_at"],
            "finished_at": None,
            "message": body["message"],
        }
        assert body["message"].startswith("Queued")
    else:
        assert response.json()["detail"]
        assert not Promotion.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_promote_onward_per_role(api_for, processed, role: str) -> None:
    response = api_for(role).post(promote_url(processed), {}, format="json")
    assert response.status_code == PROMOTE_ONWARD[role]
    onward = Promotion.objects.filter(source=processed)
    assert onward.exists() == (response.status_code == 202)
    if role == "member":
        assert response.json() == {"detail": "Only curators can promote processed datasets."}


@pytest.mark.parametrize("role", ROLES)
def test_delete_per_role(api_for, processed, role: str) -> None:
    response = api_for(role).delete(detail_url(processed))
    assert response.status_code == DELETE[role]
    processed.refresh_from_db()
    if response.status_code == 204:
        assert processed.status == DatasetStatus.DELETED
        assert not processed.files.exists()
    else:
        assert response.json()["detail"]
        assert processed.status == DatasetStatus.READY
        assert processed.files.count() == len(FILES)


# --- what the endpoints return ------------------------------------------------------


def test_list_searches_and_filters(api_for, dataset, processed) -> None:
    upload_dataset(dataset.owner, name="Sequencer run")
    client = api_for("viewer")
    body = client.get(reverse("api:dataset_list"), {"q": "Sequencer"}).json()
    assert [item["name"] for item in body["results"]] == ["Sequencer run"]
    body = client.get(reverse("api:dataset_list"), {"layer": "processed"}).json()
    assert [item["id"] for item in body["results"]] == [str(processed.pk)]
    body = client.get(reverse("api:dataset_list"), {"source": "upload", "q": "microscopy"}).json()
    assert body["count"] == 3  # tags match too
    assert body["results"][0]["url"].startswith("http://testserver/api/datasets/")


def test_list_is_paginated(api_for, dataset, processed) -> None:
    body = api_for("viewer").get(reverse("api:dataset_list"), {"page_size": 1}).json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert "page=2" in body["next"]
    body = api_for("viewer").get(reverse("api:dataset_list"), {"page_size": 10_000}).json()
    assert len(body["results"]) == 2  # capped at 200, not refused


def test_detail_has_metadata_form_and_digest(api_for, dataset) -> None:
    body = api_for("viewer").get(detail_url(dataset)).json()
    assert body["id"] == str(dataset.pk)
    assert body["layer"] == "raw"
    assert body["status"] == "ready"
    assert body["source"] == "upload"
    assert body["tags"] == ["microscopy"]
    assert body["file_count"] == len(FILES)
    assert body["total_size"] == sum(len(data) for data in FILES.values())
    assert body["manifest_digest"] == dataset.manifest_digest
    assert body["form"] == {"name": dataset.form_version.form.name, "version": 1}
    assert body["metadata"]["experiments"][0]["sample"] == "HeLa-1"
    assert body["sealed_at"] and body["created_at"]


def test_files_lists_paths_sizes_and_checksums(api_for, dataset) -> None:
    body = api_for("viewer").get(reverse("api:dataset_files", args=[dataset.pk])).json()
    assert [item["path"] for item in body["results"]] == sorted(FILES)
    readme = next(item for item in body["results"] if item["path"] == "run1/notes/readme.txt")
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    assert readme["sha256"] == datafile.sha256
    assert readme["size"] == len(FILES["run1/notes/readme.txt"])
    assert readme["download"].endswith(f"/files/{datafile.pk}/download/")


def test_download_on_folder_storage_points_at_the_page(api_for, client_for, dataset) -> None:
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    url = reverse("api:datafile_download", args=[dataset.pk, datafile.pk])
    body = api_for("viewer").get(url).json()
    page = reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])
    assert body == {"url": f"http://testserver{page}", "presigned": False}
    response = client_for("viewer").get(body["url"])
    assert b"".join(response.streaming_content) == FILES["run1/notes/readme.txt"]


def test_download_on_s3_is_a_presigned_url(s3_lake, api_for, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    url = reverse("api:datafile_download", args=[dataset.pk, datafile.pk])
    body = api_for("viewer").get(url).json()
    assert body["presigned"] is True
    assert "X-Amz-Signature=" in body["url"]
    assert datafile.storage_key.split("/")[-1] in body["url"]


def test_stats_count_ready_datasets_per_layer_and_bytes_per_source(api_for, processed) -> None:
    body = api_for("viewer").get(reverse("api:stats")).json()
    size = sum(len(data) for data in FILES.values())
    assert body["datasets_per_layer"] == {"raw": 1, "processed": 1, "curated": 0, "archive": 0}
    assert body["bytes_per_source"] == [
        {
            "source": "upload",
            "name": body["bytes_per_source"][0]["name"],
            "datasets": 2,
            "bytes": 2 * size,
        }
    ]


# --- bad input: a clear message, nothing stored -----------------------------------


def test_unknown_layer_is_refused_with_a_message(api_for, dataset) -> None:
    response = api_for("viewer").get(reverse("api:dataset_list"), {"layer": "bogus"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "layer: 'bogus' is not a layer: choose one of raw, processed, curated, archive."
    )


def test_injection_looking_query_is_just_text(api_for, dataset) -> None:
    response = api_for("viewer").get(reverse("api:dataset_list"), {"q": INJECTION})
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert "catalog_dataset" in connection.introspection.table_names()
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize("suffix", ["", "files/", "promote/", "lineage/", "nothing/"])
def test_malformed_id_is_a_json_404(api_for, suffix: str) -> None:
    response = api_for("curator").post(f"/api/datasets/not-a-uuid/{suffix}")
    assert response.status_code == 404
    assert "ids are UUIDs" in response.json()["detail"]
    assert not Promotion.objects.exists()


def test_unknown_or_deleted_dataset_is_a_json_404(api_for, processed) -> None:
    client = api_for("curator")
    assert client.delete(detail_url(processed)).status_code == 204
    for pk in (uuid.uuid4(), processed.pk):
        for url in (f"/api/datasets/{pk}/", f"/api/datasets/{pk}/files/"):
            response = client.get(url)
            assert response.status_code == 404
            assert response.json() == {"detail": "No ready dataset with this id."}


def test_unknown_file_is_a_json_404(api_for, dataset) -> None:
    response = api_for("viewer").get(reverse("api:datafile_download", args=[dataset.pk, 999_999]))
    assert response.status_code == 404
    assert response.json() == {"detail": "This dataset has no file with this id."}


def test_promote_to_a_non_adjacent_layer_is_refused(api_for, dataset) -> None:
    response = api_for("curator").post(promote_url(dataset), {"target_layer": "curated"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A raw dataset can be promoted only to processed, not to curated: "
        "promotions go one layer at a time."
    }
    assert not Promotion.objects.exists()
    assert Dataset.objects.count() == 1


def test_promote_to_no_layer_is_a_400(api_for, dataset) -> None:
    response = api_for("curator").post(promote_url(dataset), {"target_layer": "cloud"})
    assert response.status_code == 400
    assert response.json()["detail"] == 'target_layer: "cloud" is not a valid choice.'
    assert not Promotion.objects.exists()


def test_promote_twice_is_a_conflict(api_for, dataset) -> None:
    client = api_for("member")
    assert client.post(promote_url(dataset), {}).status_code == 202
    response = client.post(promote_url(dataset), {})
    assert response.status_code == 409
    assert "already promoted" in response.json()["detail"]
    assert Promotion.objects.count() == 1


def test_delete_raw_is_refused_and_keeps_everything(api_for, dataset) -> None:
    response = api_for("admin").delete(detail_url(dataset))
    assert response.status_code == 409
    assert response.json() == {"detail": "Raw datasets are write-once and can never be deleted."}
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY
    assert dataset.files.count() == len(FILES)


def test_session_writes_need_the_csrf_token(users, dataset) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["member"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(promote_url(dataset), {})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Promotion.objects.exists()


# --- token authentication, schema and docs -----------------------------------------


def test_token_authentication(users, dataset) -> None:
    _, key = api_token_create(user=users["member"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(reverse("api:dataset_list")).json()["count"] == 1
    assert client.post(promote_url(dataset), {}).status_code == 202  # no CSRF for tokens


def test_wrong_token_is_a_401(users, dataset) -> None:
    api_token_create(user=users["member"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    response = client.get(reverse("api:dataset_list"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    assert client.post(promote_url(dataset), {}).status_code == 401
    assert not Promotion.objects.exists()


def test_session_login_works_for_the_browsable_api(client_for, dataset) -> None:
    response = client_for("viewer").get(reverse("api:dataset_list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert dataset.name in response.content.decode()


def test_schema_is_openapi_3_with_the_dataset_paths(api_for) -> None:
    response = api_for("viewer").get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/datasets/", "/api/datasets/{id}/", "/api/datasets/{id}/promote/"):
        assert path in schema["paths"]
    assert api_for("anonymous").get(reverse("api:schema")).status_code == 401


def test_docs_page_lists_the_endpoints(client_for) -> None:
    response = client_for("viewer").get(reverse("api:docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "/api/datasets/{id}/files/{file_id}/download/" in page
    assert "Queue a promotion to the adjacent next layer" in page
    assert "cdn" not in page.lower()
    assert client_for("anonymous").get(reverse("api:docs")).status_code == 302
