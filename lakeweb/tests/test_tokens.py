"""The API token page: create (shown once), regenerate, revoke; login and CSRF required."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from conftest import ROLES

pytestmark = pytest.mark.django_db

URL = "/accounts/token/"
KEY = re.compile(r'value="([0-9a-f]{40})"')


def create(client: Client) -> tuple[str, str]:
    """POST create; the full key the page shows, and the page."""
    response = client.post(URL, {"action": "create"})
    assert response.status_code == 200
    page = response.content.decode()
    match = KEY.search(page)
    assert match, page
    return match.group(1), page


def test_the_url_is_named_and_ahead_of_allauth() -> None:
    assert reverse("api_token") == URL


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
def test_every_role_can_create_a_token_shown_in_full_once(client_for, users, role: str) -> None:
    client = client_for(role)

    key, page = create(client)

    token = Token.objects.get(user=users[role])
    assert token.key == key
    assert "shown only this once" in page
    response = client.get(URL)
    later = response.content.decode()
    assert response.status_code == 200
    assert key not in later
    assert f"<code>{key[:8]}…</code>" in later
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_user_without_a_role_can_have_a_token(django_user_model) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client = Client()
    client.force_login(nobody, backend="django.contrib.auth.backends.ModelBackend")

    key, _ = create(client)

    assert Token.objects.get(user=nobody).key == key


def test_get_never_creates_a_token(client_for, users) -> None:
    response = client_for("member").get(URL)

    assert response.status_code == 200
    assert "You have no API token." in response.content.decode()
    assert not Token.objects.exists()


def test_regenerating_replaces_the_token(client_for, users) -> None:
    client = client_for("member")
    first, _ = create(client)

    second, page = create(client)

    assert second != first
    assert list(Token.objects.values_list("key", flat=True)) == [second]
    assert first not in page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get(reverse("api:dataset_list")).status_code == 401


def test_revoking_deletes_the_token(client_for, users) -> None:
    client = client_for("member")
    key, _ = create(client)

    response = client.post(URL, {"action": "revoke"}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    page = response.content.decode()
    assert "Your API token was revoked." in page and "You have no API token." in page
    assert not Token.objects.exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("api:dataset_list")).status_code == 401


def test_revoking_without_a_token_says_so(client_for, users) -> None:
    response = client_for("viewer").post(URL, {"action": "revoke"}, follow=True)
    assert "You had no API token." in response.content.decode()


def test_an_unknown_action_is_refused_and_changes_nothing(client_for, users) -> None:
    client = client_for("member")
    key, _ = create(client)

    response = client.post(URL, {"action": "steal"})

    assert response.status_code == 400
    assert "Unknown action: choose create or revoke." in response.content.decode()
    assert list(Token.objects.values_list("key", flat=True)) == [key]


def test_the_token_authenticates_api_calls_as_its_user(client_for, users) -> None:
    key, _ = create(client_for("viewer"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.get(reverse("api:dataset_list")).status_code == 200
    # With the viewer's role: registering a dataset is a member's right.
    response = api.post(reverse("api:dataset_register"), {}, format="json")
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client) -> None:
    for response in (client.get(URL), client.post(URL, {"action": "create"})):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert not Token.objects.exists()


def test_posts_need_the_csrf_token(users) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["member"], backend="django.contrib.auth.backends.ModelBackend")
    Token.objects.create(user=users["member"])
    before = list(Token.objects.values_list("key", flat=True))

    for action in ("create", "revoke"):
        assert client.post(URL, {"action": action}).status_code == 403
    assert list(Token.objects.values_list("key", flat=True)) == before

    client.get(URL)  # sets the CSRF cookie, as the page's form would use
    csrf = client.cookies["csrftoken"].value
    response = client.post(URL, {"action": "create", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 200
    assert list(Token.objects.values_list("key", flat=True)) != before
