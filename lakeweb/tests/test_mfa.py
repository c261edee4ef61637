"""Two-factor sign-in: the second step of a sign-in, its bad codes, and who must enrol.

Codes are computed from the enrolled secret as an authenticator app would;
every refusal is shown to leave the user signed out.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from conftest import PASSWORD
from lakeweb.tests.mfa_helpers import PERIOD, enrol, totp_code

pytestmark = pytest.mark.django_db

ROLES = ("viewer", "member", "curator", "admin")


def _password_step(client, user) -> object:
    return client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})


def _sign_in(client, user, code: str) -> object:
    """Password, then the second factor; the answer to the code."""
    first = _password_step(client, user)
    assert first.status_code == 302 and first.url == reverse("mfa_authenticate")
    return client.post(reverse("mfa_authenticate"), {"code": code})


def _confirm_password(client) -> None:
    """allauth asks for the password again before a second factor is added."""
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302


def _signed_in(client) -> bool:
    return SESSION_KEY in client.session


def _wait_for_next_period() -> None:
    """With under 3 s left in this period, wait for the next: a test's code must not
    expire between two of its requests unless the test means it to."""
    left = PERIOD - time.time() % PERIOD
    if left < 3:
        time.sleep(left + 0.05)


def test_a_password_alone_does_not_sign_in_an_enrolled_user(client, member) -> None:
    enrol(member)

    response = _password_step(client, member)

    assert response.status_code == 302 and response.url == reverse("mfa_authenticate")
    assert not _signed_in(client)


def test_the_current_code_signs_in(client, member) -> None:
    secret, _ = enrol(member)
    _wait_for_next_period()

    response = _sign_in(client, member, totp_code(secret))

    assert response.status_code == 302 and _signed_in(client)


def test_a_code_used_once_is_refused_the_second_time(client, member) -> None:
    secret, _ = enrol(member)
    _wait_for_next_period()
    code = totp_code(secret)
    assert _sign_in(client, member, code).status_code == 302
    client.post(reverse("account_logout"))
    assert not _signed_in(client)

    again = _sign_in(client, member, code)

    assert again.status_code == 200
    assert "Incorrect code." in again.content.decode()
    assert not _signed_in(client)


def test_a_used_code_is_refused_even_when_the_cache_forgot_it(client, member) -> None:
    """allauth's own guard is the cache: per process, and empty after a restart."""
    from django.core.cache import cache

    secret, _ = enrol(member)
    _wait_for_next_period()
    code = totp_code(secret)
    assert _sign_in(client, member, code).status_code == 302
    client.post(reverse("account_logout"))
    cache.clear()

    again = _sign_in(client, member, code)

    assert again.status_code == 200 and "Incorrect code." in again.content.decode()
    assert not _signed_in(client)


@pytest.mark.parametrize("steps", [-2, -1, 1, 2])
def test_a_code_out_of_its_window_is_refused(client, member, steps: int) -> None:
    secret, _ = enrol(member)
    _wait_for_next_period()

    response = _sign_in(client, member, totp_code(secret, steps=steps))

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not _signed_in(client)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "1" * 5000, "12 34 56\x00"])
def test_a_malformed_code_is_refused_with_a_message(client, member, code: str) -> None:
    enrol(member)

    response = _sign_in(client, member, code)

    assert response.status_code == 200
    assert not _signed_in(client)


def test_a_recovery_code_signs_in_once_and_never_again(client, member) -> None:
    _, codes = enrol(member)
    assert _sign_in(client, member, codes[0]).status_code == 302 and _signed_in(client)
    client.post(reverse("account_logout"))

    again = _sign_in(client, member, codes[0])

    assert again.status_code == 200
    assert "Incorrect code." in again.content.decode()
    assert not _signed_in(client)
    # The other codes still work.
    assert _sign_in(client, member, codes[1]).status_code == 302 and _signed_in(client)


# --- Who must have a second factor (LAKEWEB_MFA_REQUIRED_FOR_STAFF) ------------------


@pytest.fixture
def required(settings) -> None:
    settings.LAKEWEB_MFA_REQUIRED_FOR_STAFF = True


@pytest.mark.parametrize(
    ("role", "led_to_setup"),
    [("viewer", False), ("member", False), ("curator", True), ("admin", True)],
)
def test_staff_and_curators_are_led_to_set_up_a_second_factor(
    required, client_for, role: str, led_to_setup: bool
) -> None:
    response = client_for(role).get(reverse("catalog:dataset_list"))

    if led_to_setup:
        assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("role", ["curator", "admin"])
def test_a_sign_in_leads_to_setup_and_setup_and_sign_out_stay_open(
    required, client, users, role: str
) -> None:
    signed_in = _password_step(client, users[role])
    assert signed_in.status_code == 302 and _signed_in(client)

    assert client.get(signed_in.url).url == reverse("mfa_activate_totp")
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.url.startswith(reverse("account_reauthenticate"))
    assert client.get(asked.url).status_code == 200
    _confirm_password(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    assert client.get(reverse("mfa_index")).status_code == 200
    assert client.get(reverse("admin:index")).url == reverse("mfa_activate_totp")
    assert client.get(reverse("api_token")).url == reverse("mfa_activate_totp")
    api = client.get(reverse("api:dataset_list"))
    assert api.status_code == 403 and "two-factor" in api.json()["detail"]
    assert client.post(reverse("account_logout")).status_code == 302
    assert not _signed_in(client)


@pytest.mark.parametrize("role", ["curator", "admin"])
def test_an_enrolled_curator_or_admin_goes_on(required, client_for, users, role: str) -> None:
    enrol(users[role])

    response = client_for(role).get(reverse("catalog:dataset_list"))

    assert response.status_code == 200


def test_enrolling_through_the_page_lets_an_admin_on(required, client, users) -> None:
    _password_step(client, users["admin"])
    _confirm_password(client)
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret

    done = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})

    assert done.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_wrong_code_on_the_setup_page_enrols_nothing(required, client, users) -> None:
    from allauth.mfa.models import Authenticator

    _password_step(client, users["curator"])
    _confirm_password(client)
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
    before = Authenticator.objects.count()

    response = client.post(reverse("mfa_activate_totp"), {"code": "000000x"})

    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert Authenticator.objects.count() == before
    assert client.get(reverse("admin:index")).url == reverse("mfa_activate_totp")


def test_setup_after_a_stale_sign_in_asks_for_the_password_first(required, client_for) -> None:
    client = client_for("curator")  # signed in without allauth: no recent authentication

    response = client.get(reverse("mfa_activate_totp"))

    assert response.status_code == 302 and response.url.startswith(
        reverse("account_reauthenticate")
    )
    assert client.get(response.url).status_code == 200


def test_with_the_setting_off_nobody_is_led_anywhere(settings, client_for) -> None:
    settings.LAKEWEB_MFA_REQUIRED_FOR_STAFF = False

    assert client_for("admin").get(reverse("admin:index")).status_code == 200


def test_the_first_admin_is_led_to_set_up_a_second_factor(required, client) -> None:
    from lakeweb.setup import setup_token_make

    created = client.post(
        reverse("setup", args=[setup_token_make()]),
        {"email": "pi@lab.example", "password": "a long lab passphrase"},
    )
    assert created.status_code == 302

    admin_page = client.get(created["Location"])
    assert admin_page.status_code == 302 and admin_page.url == reverse("mfa_activate_totp")
    asked = client.get(admin_page.url)
    assert asked.url.startswith(reverse("account_reauthenticate"))
    confirmed = client.post(asked.url, {"password": "a long lab passphrase"})
    assert confirmed.status_code == 302
    assert client.get(reverse("mfa_activate_totp")).status_code == 200
