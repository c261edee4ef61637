"""The API token page in Chromium: make a read-only expiring token, use it, revoke it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from conftest import PASSWORD
from lakeweb.tokens.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def call(url: str, key: str, method: str = "GET") -> tuple[int, dict]:
    """A script's request with the token, over HTTP to the live server."""
    headers = {"Authorization": f"Token {key}"}
    request = urllib.request.Request(url, method=method, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def test_a_member_makes_uses_and_revokes_a_read_only_token(chromium_page, live_server, member):
    page, base = chromium_page, live_server.url
    page.goto(base + reverse("account_login"))
    page.fill("input[name=login]", member.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/datasets/")

    page.goto(base + reverse("api_token"))
    page.fill("input[name=name]", "nightly sync")
    page.fill("input[name=expires_in_days]", "30")
    page.check("input[name=read_only]")
    page.click("button:has-text('Create token')")
    key = page.input_value("#new-token")
    assert key.startswith("lw_")
    assert "read-only" in page.inner_text("table")

    api = f"{base}{reverse('api:dataset_list')}"
    assert call(api, key)[0] == 200
    status, body = call(f"{base}{reverse('api:backup_list')}", key, "POST")
    assert status == 403 and "read-only" in body["detail"]

    # Opened again (a reload would post the form again, as any form page's does).
    page.goto(base + reverse("api_token"))
    assert key not in page.content()
    page.click("button:has-text('Revoke')")
    page.wait_for_selector("text=was revoked")
    assert call(api, key) == (
        401,
        {"detail": "This token was revoked: make a new one on the API token page."},
    )
    assert ApiToken.objects.get().revoked_at is not None
