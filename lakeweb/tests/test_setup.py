from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from lakeweb.setup import setup_token_make

pytestmark = pytest.mark.django_db
GOOD = {"email": "pi@lab.example", "password": "a long lab passphrase"}


def test_setup_link_creates_the_first_admin_once(client) -> None:
    url = reverse("setup", args=[setup_token_make()])
    assert client.get(url).status_code == 200

    response = client.post(url, GOOD)

    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    admin = get_user_model().objects.get(email=GOOD["email"])
    assert admin.is_superuser and admin.is_staff
    client.logout()
    second = client.post(url, {"email": "intruder@x.example", "password": "another passphrase"})
    assert second.status_code == 404
    assert "already has an admin" in second.content.decode()
    assert get_user_model().objects.count() == 1


def test_setup_link_needs_a_valid_token(client) -> None:
    response = client.post(reverse("setup", args=["forged"]), GOOD)
    assert response.status_code == 404
    assert not get_user_model().objects.exists()


def test_setup_refuses_a_weak_password(client) -> None:
    url = reverse("setup", args=[setup_token_make()])
    response = client.post(url, {"email": "pi@lab.example", "password": "12345678"})
    assert response.status_code == 400
    assert "too common" in response.content.decode()
    assert not get_user_model().objects.exists()


def test_the_admin_logs_in_with_email(client) -> None:
    client.post(reverse("setup", args=[setup_token_make()]), GOOD)
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": GOOD["email"], "password": GOOD["password"]}
    )
    assert response.status_code == 302
    assert client.get(reverse("catalog:dataset_list")).status_code == 200


def test_signup_is_closed(client) -> None:
    response = client.post(
        reverse("account_signup"),
        {"email": "x@y.example", "password1": "pw long enough 1", "password2": "pw long enough 1"},
    )
    assert "closed" in response.content.decode().lower()
    assert not get_user_model().objects.exists()


def test_pages_need_login(client) -> None:
    for name in ("catalog:dataset_list", "catalog:upload_choose", "backups:backup_list", "home"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account_login")) or name == "home"


def test_admin_is_for_staff_only(client_for) -> None:
    assert client_for("curator").get(reverse("admin:index")).status_code == 302
    assert client_for("admin").get(reverse("admin:index")).status_code == 200
