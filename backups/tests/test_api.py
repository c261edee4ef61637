from __future__ import annotations

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from backups.models import BackupJob, BackupKind
from backups.services import backup_request
from conftest import ROLES
from lakeweb.tokens.services import api_token_create

pytestmark = pytest.mark.django_db

READ = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 200, "admin": 200}
TRIGGER = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 202, "admin": 202}


@pytest.fixture
def job(curator) -> BackupJob:
    backup = backup_request(kind=BackupKind.DAILY, user=curator)
    BackupJob.objects.filter(pk=backup.pk).update(object_count=3, bytes_copied=1024)
    backup.refresh_from_db()
    return backup


@pytest.mark.parametrize("role", ROLES)
def test_list_and_detail_per_role(api_for, job, role: str) -> None:
    for url in (reverse("api:backup_list"), reverse("api:backup_detail", args=[job.pk])):
        response = api_for(role).get(url)
        assert response.status_code == READ[role], url
        if role in ("viewer", "member"):
            assert response.json() == {"detail": "Only curators and admins can see backups."}


@pytest.mark.parametrize("role", ROLES)
def test_trigger_per_role(api_for, role: str) -> None:
    response = api_for(role).post(reverse("api:backup_list"))
    assert response.status_code == TRIGGER[role]
    if response.status_code == 202:
        job = BackupJob.objects.get()
        assert response.json()["id"] == str(job.pk)
        assert job.kind == BackupKind.MANUAL
        assert response.json()["status"] == "queued"
    else:
        assert response.json()["detail"]
        assert not BackupJob.objects.exists()
    if role in ("viewer", "member"):
        assert response.json() == {"detail": "Only curators and admins can trigger backups."}


def test_list_and_detail_show_counts_and_who(api_for, job) -> None:
    body = api_for("curator").get(reverse("api:backup_list")).json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == str(job.pk)
    detail = api_for("curator").get(reverse("api:backup_detail", args=[job.pk])).json()
    assert detail["kind"] == "daily"
    assert detail["object_count"] == 3
    assert detail["bytes_copied"] == 1024
    assert detail["triggered_by"] == "curator@lab.example"
    assert detail["errors"] == []


def test_scheduled_job_has_no_trigger_user(api_for) -> None:
    job = backup_request(kind=BackupKind.WEEKLY, user=None)
    detail = api_for("admin").get(reverse("api:backup_detail", args=[job.pk])).json()
    assert detail["triggered_by"] is None


def test_unknown_and_malformed_job_ids_are_json_404s(api_for) -> None:
    response = api_for("curator").get(reverse("api:backup_detail", args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert response.json() == {"detail": "No backup job with this id."}
    response = api_for("curator").get("/api/backups/42/")
    assert response.status_code == 404
    assert "ids are UUIDs" in response.json()["detail"]


def test_trigger_with_a_token(users) -> None:
    _, key = api_token_create(user=users["curator"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.post(reverse("api:backup_list")).status_code == 202
    client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert client.post(reverse("api:backup_list")).status_code == 401
    assert BackupJob.objects.count() == 1
