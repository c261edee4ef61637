"""Two-factor sign-in in Django admin: who has it, and the reset (audited); and the
MFA pages under the strict Content-Security-Policy."""

from __future__ import annotations

import pytest
from allauth.mfa.models import Authenticator
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from conftest import PASSWORD, ROLES
from lakeweb.tests.mfa_helpers import enrol, second_factors
from lakeweb.tests.test_csp import inline_code

pytestmark = pytest.mark.django_db

USERS_URL = reverse("admin:auth_user_changelist")


def _reset(client, *users) -> object:
    return client.post(
        USERS_URL,
        {"action": "reset_two_factor", "_selected_action": [u.pk for u in users]},
    )


def test_the_user_list_shows_and_filters_who_has_a_second_factor(client_for, users) -> None:
    enrol(users["curator"])
    client = client_for("admin")

    with_mfa = client.get(USERS_URL, {"mfa": "yes"})
    without = client.get(USERS_URL, {"mfa": "no"})

    assert [u.email for u in with_mfa.context["cl"].result_list] == ["curator@lab.example"]
    shown = {u.email: u.has_mfa for u in without.context["cl"].result_list}
    assert shown == {f"{r}@lab.example": False for r in ("viewer", "member", "admin")}
    assert "Two-factor" in with_mfa.content.decode()


def test_recovery_codes_alone_do_not_count_as_a_second_factor(client_for, users) -> None:
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    RecoveryCodes.activate(users["member"])

    listed = client_for("admin").get(USERS_URL, {"mfa": "yes"})

    assert list(listed.context["cl"].result_list) == []


def test_an_admin_resets_a_second_factor_and_the_trail_says_who(client_for, users) -> None:
    curator = users["curator"]
    enrol(curator)
    enrol(users["member"])
    client = client_for("admin")
    client.defaults["REMOTE_ADDR"] = "10.1.2.3"

    response = _reset(client, curator)

    assert response.status_code == 302
    assert second_factors(curator) == 0
    assert second_factors(users["member"]) == 2  # only the one selected
    (entry,) = LogEntry.objects.filter(additional_data__event="second factor reset")
    assert (entry.actor, entry.remote_addr, entry.object_pk) == (
        users["admin"],
        "10.1.2.3",
        str(curator.pk),
    )
    assert entry.additional_data["removed"] == 2
    removed = LogEntry.objects.get_for_model(Authenticator).filter(action=LogEntry.Action.DELETE)
    assert removed.count() == 2 and {e.actor for e in removed} == {users["admin"]}
    assert all("secret" not in str(e.changes) for e in removed)


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_no_other_role_can_reset_a_second_factor(client_for, users, role: str) -> None:
    member = users["member"]
    enrol(member)

    response = _reset(client_for(role), member)

    assert response.status_code == 302 and "/login/" in response.url
    assert second_factors(member) == 2
    assert not LogEntry.objects.filter(additional_data__event="second factor reset").exists()


def test_staff_without_the_right_to_change_users_get_no_reset_action(client, users) -> None:
    staff = User.objects.create_user("desk@lab.example", "desk@lab.example", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    member = users["member"]
    enrol(member)
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")

    listing = client.get(USERS_URL)
    response = _reset(client, member)

    assert listing.status_code == 200 and "reset_two_factor" not in listing.content.decode()
    assert response.status_code in (200, 302)
    assert second_factors(member) == 2


# --- The MFA pages under the site's policy ---------------------------------------------


MFA_PAGES = ["mfa_index", "mfa_activate_totp", "mfa_view_recovery_codes", "mfa_add_webauthn"]


@pytest.mark.parametrize("name", MFA_PAGES)
def test_the_mfa_pages_hold_no_code_the_policy_blocks(client, users, name: str) -> None:
    member = users["member"]
    if name == "mfa_view_recovery_codes":
        enrol(member)  # the codes page shows the codes of an enrolled user
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    # These pages ask for the password again first (allauth's reauthentication).
    assert client.post(reverse("account_reauthenticate"), {"password": PASSWORD}).status_code == 302

    response = client.get(reverse(name))

    assert response.status_code == 200, response.get("Location")
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert inline_code(response.content.decode()) == []
