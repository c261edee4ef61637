"""Two-factor sign-in in a real Chromium: a curator is led to enrol at sign-in, signs
out, signs in with a code from the app, then with a recovery code.

Codes are computed from the secret the activation page shows, as an
authenticator app would. ``chromium_page`` (conftest.py) fails the test on any
Content-Security-Policy violation or uncaught error.
"""

from __future__ import annotations

import time

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse

from conftest import PASSWORD
from lakeweb.tests.mfa_helpers import PERIOD, second_factors, totp_code

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

EMAIL = "curator@lab.example"


@pytest.fixture
def curator(settings):
    settings.LAKEWEB_MFA_REQUIRED_FOR_STAFF = True
    user = get_user_model().objects.create_user(username=EMAIL, email=EMAIL, password=PASSWORD)
    user.groups.add(Group.objects.get(name="curator"))
    return user


def _sign_in_with_password(page, base: str) -> None:
    page.goto(base + reverse("account_login"))
    page.fill("input[name=login]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")


def _enter_second_factor(page, base: str, code: str) -> None:
    page.wait_for_url(base + reverse("mfa_authenticate"))
    page.fill("input[name=code]", code)
    page.click("main button:has-text('Sign In')")


def _sign_out(page, base: str) -> None:
    page.click("nav button:has-text('Log out')")
    page.wait_for_url(lambda url: "/accounts/" in url or url.rstrip("/") == base)


def _next_period() -> None:
    """Wait for a new period: a code is good once, and activation used this one's."""
    time.sleep(PERIOD - time.time() % PERIOD + 0.2)


def test_enrol_sign_out_sign_in_with_a_code_then_with_a_recovery_code(
    chromium_page, live_server, curator
) -> None:
    page, base = chromium_page, live_server.url

    # Signed in with a password, a curator is led to set up an authenticator app.
    _sign_in_with_password(page, base)
    page.wait_for_url(lambda url: reverse("account_reauthenticate") in url)
    page.fill("input[name=password]", PASSWORD)  # allauth confirms before adding a factor
    page.click("main button[type=submit]")
    page.wait_for_url(base + reverse("mfa_activate_totp"))
    assert page.is_visible("img.mfa-qr")
    secret = page.input_value("#authenticator_secret")
    page.fill("input[name=code]", totp_code(secret))
    page.click("main button:has-text('Activate')")
    page.wait_for_url(base + reverse("mfa_view_recovery_codes"))
    codes = page.input_value("#recovery_codes").split()
    assert len(codes) == 10 and second_factors(curator) == 2

    # Free to go on now.
    page.goto(base + reverse("catalog:dataset_list"))
    assert page.url == base + reverse("catalog:dataset_list")
    _sign_out(page, base)

    # A code from the app.
    _next_period()
    _sign_in_with_password(page, base)
    _enter_second_factor(page, base, totp_code(secret))
    page.wait_for_url(base + reverse("catalog:dataset_list"))
    assert page.is_visible(f"nav >> text={EMAIL}")
    _sign_out(page, base)

    # A recovery code, once.
    _sign_in_with_password(page, base)
    _enter_second_factor(page, base, codes[0])
    page.wait_for_url(base + reverse("catalog:dataset_list"))
    _sign_out(page, base)
    _sign_in_with_password(page, base)
    _enter_second_factor(page, base, codes[0])
    page.wait_for_selector("text=Incorrect code.")
    assert page.url == base + reverse("mfa_authenticate")

    events = list(
        LogEntry.objects.filter(object_pk=str(curator.pk))
        .exclude(additional_data=None)
        .order_by("pk")
        .values_list("additional_data__event", flat=True)
    )
    assert events.count("sign-in") == 3 and events.count("failed second factor") == 1


def test_a_security_key_is_added_and_signs_in(chromium_page, live_server, curator) -> None:
    """WebAuthn with Chromium's virtual authenticator (DevTools protocol): allauth's
    scripts, served as static files, run under the site's policy."""
    page, base = chromium_page, live_server.url
    devtools = page.context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )

    _sign_in_with_password(page, base)  # led to set up a factor, after the password again
    page.wait_for_url(lambda url: reverse("account_reauthenticate") in url)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(base + reverse("mfa_activate_totp"))
    page.goto(base + reverse("mfa_add_webauthn"))  # a key instead of an app
    page.fill("input[name=name]", "lab key")
    page.click("#mfa_webauthn_add")
    page.wait_for_url(lambda url: reverse("mfa_add_webauthn") not in url)
    assert second_factors(curator) == 2  # the key and its recovery codes

    page.goto(base + reverse("catalog:dataset_list"))
    assert page.url == base + reverse("catalog:dataset_list")  # no longer led to setup
    _sign_out(page, base)

    _sign_in_with_password(page, base)
    page.wait_for_url(base + reverse("mfa_authenticate"))
    page.click("#mfa_webauthn_authenticate")
    page.wait_for_url(base + reverse("catalog:dataset_list"))
    assert page.is_visible(f"nav >> text={EMAIL}")
