"""API tokens on the API: each role, expiry, revocation, read-only scope, last use; the schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from backups.models import BackupJob
from catalog.models import Dataset, Promotion
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import ROLES
from lakeweb.jobs.models import Job
from lakeweb.tokens.auth import READ_ONLY
from lakeweb.tokens.models import ApiToken
from lakeweb.tokens.services import TOUCH_EVERY, api_token_create

pytestmark = pytest.mark.django_db

SIGNED_IN = [role for role in ROLES if role != "anonymous"]
LIST = "/api/datasets/"
EXPECTED_LIST = {"viewer": 200, "member": 200, "curator": 200, "admin": 200}


def api_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def counts() -> tuple[int, ...]:
    return (Dataset.objects.count(), Promotion.objects.count(), Job.objects.count(),
            BackupJob.objects.count())  # fmt: skip


@pytest.mark.parametrize("role", SIGNED_IN)
def test_a_token_acts_as_its_user_with_their_role(users, role: str) -> None:
    _, key = api_token_create(user=users[role])
    response = api_with(key).get(LIST)
    assert response.status_code == EXPECTED_LIST[role]
    assert response.wsgi_request.user == users[role]
    # Triggering a backup is a curator's right: the token has the user's role, no more.
    before = counts()
    status = api_with(key).post(reverse("api:backup_list")).status_code
    assert status == (202 if role in ("curator", "admin") else 403)
    assert (counts() == before) == (status == 403)


def test_a_token_of_a_user_without_a_role_reads_nothing(django_user_model) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    _, key = api_token_create(user=nobody)
    response = api_with(key).get(LIST)
    assert response.status_code == 403
    assert "no role yet" in response.json()["detail"]


def test_no_token_is_a_401_asking_for_one() -> None:
    response = APIClient().get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    [
        "Token lw_" + "x" * 43,  # well formed, unknown
        "Token " + "x" * 5000,  # far too long to be ours: refused before hashing
        "Token a b",
        "Token",
    ],
    ids=["unknown", "overlong", "two-words", "no-key"],
)
def test_a_wrong_token_is_a_401_in_json(users, header: str) -> None:
    api_token_create(user=users["member"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(LIST)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


@pytest.mark.parametrize("role", SIGNED_IN)
def test_an_expired_token_is_a_401_saying_so(users, role: str) -> None:
    token, key = api_token_create(user=users[role], expires_at=timezone.now() + timedelta(days=1))
    assert api_with(key).get(LIST).status_code == EXPECTED_LIST[role]
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_with(key).get(LIST)

    assert response.status_code == 401
    assert "This token expired at" in response.json()["detail"]


@pytest.mark.parametrize("role", SIGNED_IN)
def test_a_revoked_token_is_a_401_saying_so(client_for, users, role: str) -> None:
    token, key = api_token_create(user=users[role])
    client_for(role).post("/accounts/token/", {"action": "revoke", "token": token.pk})

    response = api_with(key).get(LIST)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "This token was revoked: make a new one on the API token page."
    }


def test_a_token_of_a_deactivated_user_is_a_401(users) -> None:
    _, key = api_token_create(user=users["member"])
    users["member"].is_active = False
    users["member"].save()
    assert api_with(key).get(LIST).status_code == 401


@pytest.mark.parametrize("role", SIGNED_IN)
def test_a_read_only_token_reads_but_every_write_is_a_403(users, role: str) -> None:
    dataset = upload_dataset(users["member"])
    processed = promote_dataset(dataset, users["member"])
    _, key = api_token_create(user=users[role], read_only=True)
    client = api_with(key)
    assert client.get(LIST).status_code == EXPECTED_LIST[role]
    before = counts()

    writes = [
        client.post(reverse("api:dataset_promote", args=[dataset.pk]), {}, format="json"),
        client.delete(reverse("api:dataset_detail", args=[processed.pk])),
        client.post(reverse("api:backup_list")),
        client.post(reverse("api:dataset_register"), {"prefix": "s3://x/"}, format="json"),
    ]

    for response in writes:
        assert response.status_code == 403
        assert response.json() == {"detail": READ_ONLY}
    assert counts() == before


def test_the_same_user_with_a_full_token_may_write(users) -> None:
    _, key = api_token_create(user=users["curator"])
    before = BackupJob.objects.count()
    assert api_with(key).post(reverse("api:backup_list")).status_code == 202
    assert BackupJob.objects.count() == before + 1


def test_last_use_is_written_at_most_once_a_minute(users) -> None:
    token, key = api_token_create(user=users["viewer"])
    client = api_with(key)
    client.get(LIST)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None

    with CaptureQueriesContext(connection) as queries:
        client.get(LIST)
    assert not [q for q in queries if "UPDATE" in q["sql"] and "apitoken" in q["sql"]]
    token.refresh_from_db()
    assert token.last_used_at == first

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - TOUCH_EVERY)
    client.get(LIST)
    token.refresh_from_db()
    assert token.last_used_at > first


def test_the_schema_documents_token_auth_and_its_401_and_403(api_for) -> None:
    schema = api_for("viewer").get("/api/schema/", {"format": "json"}).json()

    schemes = schema["components"]["securitySchemes"]
    assert any(
        s.get("type") == "apiKey" and s.get("name") == "Authorization" for s in schemes.values()
    )
    for item in schema["paths"].values():
        for method, operation in item.items():
            assert "expired or was revoked" in operation["responses"]["401"]["description"], method
            assert "read-only token" in operation["responses"]["403"]["description"], method
