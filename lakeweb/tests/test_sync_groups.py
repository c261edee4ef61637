"""``manage.py sync_groups``: membership from a YAML file; a bad file changes nothing."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, User
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.test import Client

pytestmark = pytest.mark.django_db

LINK = re.compile(r"http://lake\.example/accounts/password/reset/key/\S+")


def run(tmp_path: Path, text: str | bytes, *args: str) -> str:
    path = tmp_path / "groups.yml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    out = StringIO()
    call_command("sync_groups", str(path), "--site-url", "http://lake.example", *args, stdout=out)
    return out.getvalue()


def state() -> tuple[list, list]:
    """Every account (flags, password usable) and every membership: what a run may change."""
    users = [
        (u.email, u.is_staff, u.is_superuser, u.has_usable_password())
        for u in User.objects.order_by("email")
    ]
    members = sorted(User.groups.through.objects.values_list("user__email", "group__name"))
    return users, members


def groups_of(email: str) -> set[str]:
    return set(User.objects.get(email=email).groups.values_list("name", flat=True))


@pytest.fixture
def lab(users) -> dict[str, object]:
    """The conftest users, and an admin-made group the file will not name."""
    imaging = Group.objects.create(name="imaging")
    users["member"].groups.add(imaging)
    users["viewer"].is_staff = True  # staff flags are never touched
    users["viewer"].save()
    return users


ROSTER = """\
viewer:
  - viewer@lab.example
  - new.student@lab.example
member:
  - Curator@Lab.Example
curator: []
"""


def test_a_sync_makes_membership_match_and_invites_new_people(tmp_path, lab) -> None:
    out = run(tmp_path, ROSTER)

    assert groups_of("viewer@lab.example") == {"viewer"}
    assert groups_of("new.student@lab.example") == {"viewer"}
    assert groups_of("curator@lab.example") == {"member"}, "moved from curator to member"
    assert groups_of("member@lab.example") == {"imaging"}, "left member; imaging untouched"
    viewer, admin = User.objects.get(email="viewer@lab.example"), lab["admin"]
    admin.refresh_from_db()
    assert viewer.is_staff and admin.is_staff and admin.is_superuser
    new = User.objects.get(email="new.student@lab.example")
    assert not new.has_usable_password()
    assert EmailAddress.objects.filter(user=new, email=new.email, verified=True).exists()
    for row in [
        "ACTION          GROUP    EMAIL",
        "create account  -        new.student@lab.example",
        "add             viewer   new.student@lab.example",
        "add             member   curator@lab.example",
        "remove          member   member@lab.example",
        "remove          curator  curator@lab.example",
    ]:
        assert row in out, out
    assert "Done: 1 account(s) created, 2 membership(s) added, 2 removed." in out
    assert [m.to for m in mail.outbox] == [["new.student@lab.example"]]
    assert LINK.search(mail.outbox[0].body)


def test_a_second_run_changes_nothing_and_sends_nothing(tmp_path, lab) -> None:
    run(tmp_path, ROSTER)
    before, sent = state(), len(mail.outbox)

    out = run(tmp_path, ROSTER)

    assert out.strip() == "Nothing to change: the groups already match the file."
    assert state() == before and len(mail.outbox) == sent


def test_a_dry_run_prints_the_plan_and_changes_nothing(tmp_path, lab) -> None:
    before = state()

    out = run(tmp_path, ROSTER, "--dry-run")

    assert "create account  -        new.student@lab.example" in out
    assert "1 account(s) to create, 2 membership(s) to add, 2 to remove. Dry run" in out
    assert state() == before and mail.outbox == []


def test_the_invitation_link_sets_a_password_that_signs_in(tmp_path, lab) -> None:
    run(tmp_path, "viewer:\n  - new.student@lab.example\n")
    link = LINK.search(mail.outbox[0].body).group(0).removeprefix("http://lake.example")
    client = Client()
    form = client.get(link, follow=True)
    assert form.status_code == 200
    password = "a long new passphrase 42"
    done = client.post(form.redirect_chain[-1][0], {"password1": password, "password2": password})
    assert done.status_code == 302

    signed_in = Client().post(
        "/accounts/login/", {"login": "new.student@lab.example", "password": password}
    )
    assert signed_in.status_code == 302


BAD_FILES = [
    ("viewer:\n  - a@lab.example\nvewer:\n  - b@lab.example\n", "line 3: unknown group 'vewer'"),
    ("viewer:\n  - a@lab.example\n  - not-an-email\n", "line 3: 'not-an-email' is not an email"),
    (
        "viewer:\n  - a@lab.example\n  - b@lab.example\n  - A@Lab.example\n",
        "line 4: a@lab.example is listed twice in 'viewer' (first on line 2)",
    ),
    ("viewer:\n  - a@lab.example\n member: [\n", "line 3: not valid YAML"),
    ("viewer: [a@lab.example\ncurator: []\n", "not valid YAML"),
    ("viewer: []\nviewer: []\n", "line 2: group 'viewer' is listed twice (first on line 1)"),
    ("- viewer\n- member\n", "line 1: the file must map group names"),
    ("", "line 1: the file is empty"),
    ("viewer:\n  - 42\n", "line 2: an entry must be one email address"),
    ("viewer:\n  - [a@lab.example]\n", "line 2: an entry must be one email address"),
    ("viewer: a@lab.example\n", "line 1: group 'viewer' must be a list of emails"),
    ("viewer:\n  - " + "a" * 300 + "@lab.example\n", "line 2: 'aaaa"),
    (b"viewer:\n  - caf\xe9@lab.example\n", "the file is not UTF-8"),
    ("viewer: []\n" + "#" * (1024 * 1024), "larger than 1,048,576 bytes"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_file_is_refused_with_its_line_and_changes_nothing(
    tmp_path, lab, text, message
) -> None:
    before = state()

    with pytest.raises(CommandError) as refused:
        run(tmp_path, text)

    assert message in str(refused.value)
    assert "nothing was changed" in str(refused.value)
    assert state() == before and mail.outbox == []


def test_every_problem_is_listed_at_once(tmp_path, lab) -> None:
    text = (
        "viewer:\n  - nope\nstaff:\n  - a@lab.example\n"
        "member:\n  - x@lab.example\n  - x@lab.example\n"
    )
    with pytest.raises(CommandError) as refused:
        run(tmp_path, text)
    message = str(refused.value)
    assert "line 2: 'nope'" in message and "line 3: unknown group 'staff'" in message
    assert "line 7: x@lab.example is listed twice" in message


def test_a_missing_file_is_refused(tmp_path, lab) -> None:
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("sync_groups", str(tmp_path / "absent.yml"))


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


def test_an_invitation_that_cannot_be_sent_is_reported(tmp_path, lab, settings) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"

    with pytest.raises(CommandError) as failed:
        run(tmp_path, "viewer:\n  - new.student@lab.example\n")

    assert "new.student@lab.example: mail server down" in str(failed.value)
    assert groups_of("new.student@lab.example") == {"viewer"}, "the accounts were still made"


def test_an_email_held_as_a_second_address_is_that_account(tmp_path, lab) -> None:
    EmailAddress.objects.create(user=lab["member"], email="Ben.Alias@lab.example")
    before = User.objects.count()

    run(tmp_path, "curator:\n  - ben.alias@lab.example\n")

    assert User.objects.count() == before and mail.outbox == []
    assert "curator" in groups_of("member@lab.example")


def test_two_accounts_with_one_email_are_refused(tmp_path, lab) -> None:
    User.objects.create_user(username="twin", email="MEMBER@lab.example")
    before = state()

    with pytest.raises(CommandError, match="two accounts have this email"):
        run(tmp_path, "viewer:\n  - member@lab.example\n")

    assert state() == before
