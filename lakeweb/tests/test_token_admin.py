"""API tokens in admin (who has them, never the key), and the migration that hashed old keys."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from conftest import ROLES
from lakeweb.tokens.models import ApiToken
from lakeweb.tokens.services import api_token_create

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:lakeweb_apitoken_changelist")


def status_with(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/datasets/").status_code


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_see_the_token_list_and_never_a_key(client_for, users, role: str) -> None:
    token, key = api_token_create(user=users["member"], name="cluster sync", read_only=True)

    response = client_for(role).get(CHANGELIST)

    if role != "admin":
        login = reverse("account_login" if role == "anonymous" else "admin:login")
        assert response.status_code == 302
        assert response["Location"].startswith(login)
        return
    page = response.content.decode()
    assert response.status_code == 200
    assert "member@lab.example" in page and token.prefix in page and "cluster sync" in page
    assert key not in page and token.digest not in page
    detail = client_for(role).get(reverse("admin:lakeweb_apitoken_change", args=[token.pk]))
    assert detail.status_code == 200
    assert key not in detail.content.decode() and token.digest not in detail.content.decode()


def test_admin_neither_adds_nor_deletes_tokens(client_for, users) -> None:
    token, _ = api_token_create(user=users["member"])
    client = client_for("admin")

    assert client.get(reverse("admin:lakeweb_apitoken_add")).status_code == 403
    delete = reverse("admin:lakeweb_apitoken_delete", args=[token.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_admin_revokes_selected_tokens(client_for, users) -> None:
    token, key = api_token_create(user=users["member"])
    _, kept_key = api_token_create(user=users["viewer"])

    response = client_for("admin").post(
        CHANGELIST, {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )

    assert "1 token(s) revoked." in response.content.decode()
    assert (status_with(key), status_with(kept_key)) == (401, 200)


def test_the_migration_hashes_plain_keys_which_keep_working(users) -> None:
    migration = importlib.import_module("lakeweb.migrations.0004_hash_plain_api_tokens")
    plain = "0123456789abcdef0123456789abcdef01234567"
    made = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    with connection.cursor() as cursor:  # the table rest_framework.authtoken left behind
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [plain, made, users["viewer"].pk]
        )

    with connection.schema_editor() as editor:
        migration.hash_plain_tokens(apps, editor)

    token = ApiToken.objects.get()
    assert (token.user, token.prefix, token.created_at) == (users["viewer"], plain[:8], made)
    assert plain not in token.digest
    assert status_with(plain) == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,), "no plain key is left in the database"


def test_the_migration_does_nothing_without_the_old_table() -> None:
    migration = importlib.import_module("lakeweb.migrations.0004_hash_plain_api_tokens")
    with connection.schema_editor() as editor:
        migration.hash_plain_tokens(apps, editor)
    assert not ApiToken.objects.exists()


def test_the_command_prints_a_working_key_once(users, capsys) -> None:
    call_command("api_token_create", "Member@Lab.example", "--read-only", "--expires-days", "7")

    key = capsys.readouterr().out.strip()
    token = ApiToken.objects.get(user=users["member"])
    assert token.read_only and token.expires_at is not None
    assert status_with(key) == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@lab.example"], "No user has the email or username"),
        (["member@lab.example", "--expires-days", "0"], "from 1 to 3650"),
        (["member@lab.example", "--expires-days", "9" * 50], "from 1 to 3650"),
    ],
)
def test_the_command_refuses_bad_input_and_makes_nothing(users, args, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("api_token_create", *args)
    assert not ApiToken.objects.exists()
