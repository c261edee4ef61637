"""The API token page: make (key shown once, stored hashed), list, revoke; login and CSRF."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import ROLES
from lakeweb.tokens.models import ApiToken
from lakeweb.tokens.services import MAX_LIVE_TOKENS, api_token_create

pytestmark = pytest.mark.django_db

URL = "/accounts/token/"
KEY = re.compile(r'value="(lw_[A-Za-z0-9_-]{43})"')
SIGNED_IN = [role for role in ROLES if role != "anonymous"]


def create(client: Client, **fields: str) -> tuple[str, str]:
    """POST create; the full key the page shows, and the page."""
    response = client.post(URL, {"action": "create", **fields})
    assert response.status_code == 200, response.content.decode()
    page = response.content.decode()
    match = KEY.search(page)
    assert match, page
    return match.group(1), page


def api_status(key: str) -> int:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get(reverse("api:dataset_list")).status_code


def test_the_url_is_named_and_ahead_of_allauth() -> None:
    assert reverse("api_token") == URL


@pytest.mark.parametrize("role", SIGNED_IN)
def test_every_role_can_make_a_token_shown_in_full_once(client_for, users, role: str) -> None:
    client = client_for(role)

    key, page = create(client, name="nightly sync")

    token = ApiToken.objects.get(user=users[role])
    assert "shown only this once" in page
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {str(getattr(token, f.attname)) for f in ApiToken._meta.concrete_fields}
    response = client.get(URL)
    later = response.content.decode()
    assert response.status_code == 200
    assert key not in later
    assert f"<code>{key[:11]}…</code>" in later and "nightly sync" in later
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_user_without_a_role_can_have_a_token(django_user_model) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client = Client()
    client.force_login(nobody, backend="django.contrib.auth.backends.ModelBackend")

    key, _ = create(client)

    assert ApiToken.objects.get(user=nobody).prefix == key[:11]


def test_expiry_and_read_only_scope_are_kept(client_for, users) -> None:
    _, page = create(client_for("member"), expires_in_days="30", read_only="on")

    token = ApiToken.objects.get(user=users["member"])
    assert token.read_only
    assert token.expires_at is not None
    days = (token.expires_at - timezone.now()).total_seconds() / 86400
    assert 29.9 < days <= 30
    assert "read-only" in page


def test_get_never_makes_a_token(client_for, users) -> None:
    response = client_for("member").get(URL)

    assert response.status_code == 200
    assert "You have no API token." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_may_hold_several_tokens_and_each_works(client_for, users) -> None:
    client = client_for("member")
    first, _ = create(client, name="laptop")
    second, page = create(client, name="cluster")

    assert first != second and first not in page
    assert ApiToken.objects.filter(user=users["member"]).count() == 2
    assert api_status(first) == api_status(second) == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"expires_in_days": "0"}, "greater than or equal to 1"),
        ({"expires_in_days": "3651"}, "less than or equal to 3650"),
        ({"expires_in_days": "9" * 400}, "less than or equal to 3650"),
        ({"expires_in_days": "soon"}, "Enter a whole number."),
        ({"name": "x" * 101}, "at most 100 characters"),
        ({"name": "a\x00b"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_refused_and_stores_nothing(client_for, users, fields, message) -> None:
    response = client_for("member").post(URL, {"action": "create", **fields})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_past_the_most_live_tokens_a_new_one_is_refused(client_for, users) -> None:
    for _ in range(MAX_LIVE_TOKENS):
        api_token_create(user=users["member"])

    response = client_for("member").post(URL, {"action": "create"})

    assert response.status_code == 409
    assert "revoke one you no longer use first" in response.content.decode()
    assert ApiToken.objects.count() == MAX_LIVE_TOKENS


def test_expired_tokens_do_not_count_against_the_most(client_for, users) -> None:
    past = timezone.now() - timedelta(seconds=1)
    for _ in range(MAX_LIVE_TOKENS):
        api_token_create(user=users["member"])
    ApiToken.objects.update(expires_at=past)

    create(client_for("member"))

    assert ApiToken.objects.count() == MAX_LIVE_TOKENS + 1


def test_revoking_stops_the_token_and_keeps_its_record(client_for, users) -> None:
    client = client_for("member")
    key, _ = create(client)
    token = ApiToken.objects.get()

    response = client.post(URL, {"action": "revoke", "token": token.pk}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    page = response.content.decode()
    assert f"The token {token.prefix}… was revoked." in page and "You have no API token." in page
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert api_status(key) == 401


def test_nobody_revokes_another_users_token(client_for, users) -> None:
    _, key = api_token_create(user=users["curator"])
    token = ApiToken.objects.get()

    response = client_for("member").post(URL, {"action": "revoke", "token": token.pk})

    assert response.status_code == 404
    assert "You have no live token with this id." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is None and api_status(key) == 200


@pytest.mark.parametrize("token", ["", "abc", "-1", "9" * 30])
def test_a_malformed_revoke_is_refused(client_for, users, token: str) -> None:
    api_token_create(user=users["member"])

    response = client_for("member").post(URL, {"action": "revoke", "token": token})

    assert response.status_code == 400
    assert "Say which token to revoke." in response.content.decode()
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_an_unknown_action_is_refused_and_changes_nothing(client_for, users) -> None:
    client = client_for("member")
    create(client)

    response = client.post(URL, {"action": "steal"})

    assert response.status_code == 400
    assert "Unknown action: choose create or revoke." in response.content.decode()
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client) -> None:
    for response in (client.get(URL), client.post(URL, {"action": "create"})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert not ApiToken.objects.exists()


def test_posts_need_the_csrf_token(users) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["member"], backend="django.contrib.auth.backends.ModelBackend")
    token, _ = api_token_create(user=users["member"])

    for data in ({"action": "create"}, {"action": "revoke", "token": token.pk}):
        assert client.post(URL, data).status_code == 403
    assert list(ApiToken.objects.values_list("pk", "revoked_at")) == [(token.pk, None)]

    client.get(URL)  # sets the CSRF cookie, as the page's form would use
    csrf = client.cookies["csrftoken"].value
    response = client.post(URL, {"action": "create", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 200
    assert ApiToken.objects.count() == 2
