"""``manage.py sync_groups``: make group membership match a file (SPEC §3 item 5, issue 14).

The plan is worked out from the database and the file (``group_file_parse``),
then applied in one transaction: accounts created for emails nobody has (no
usable password, a verified email), memberships added and removed in the
groups the file names. Staff and superuser flags and groups the file does not
name are never touched. Invitations (a link to set a password) are sent after
the commit, so a failed run sends nothing; a second run plans nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.core.mail import send_mail
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse

from .groupfile import GroupFile, GroupFileRefused, group_file_parse

logger = logging.getLogger(__name__)

CREATE, ADD, REMOVE = "create account", "add", "remove"


@dataclass(frozen=True)
class Change:
    action: str  # CREATE, ADD or REMOVE
    group: str  # "" for CREATE
    email: str


@dataclass
class SyncResult:
    """What the run changed (or, dry, would change), and invitations that could not be sent."""

    changes: list[Change] = field(default_factory=list)
    not_invited: dict[str, str] = field(default_factory=dict)  # email -> why


def groups_sync(*, data: bytes, dry_run: bool, site_url: str) -> SyncResult:
    """Parse ``data`` (GroupFileRefused on a bad file) and make membership match it."""
    known = set(Group.objects.values_list("name", flat=True))
    wanted = group_file_parse(data, known_groups=known)
    if dry_run:
        return SyncResult(changes=_plan(wanted, _accounts(wanted)))
    created, result = _apply(wanted)
    result.not_invited = _invite(created, site_url=site_url)
    return result


@transaction.atomic
def _apply(wanted: GroupFile) -> tuple[list[User], SyncResult]:
    # Lock the named groups: two runs at once apply one after the other.
    groups = {g.name: g for g in Group.objects.select_for_update().filter(name__in=wanted.groups)}
    accounts = _accounts(wanted)
    changes = _plan(wanted, accounts)
    created = [_create_account(c.email) for c in changes if c.action == CREATE]
    accounts.update({user.email: user for user in created})
    for group in groups.values():
        _set_members(group, changes, accounts)
    logger.info("sync_groups applied %d changes", len(changes))
    return created, SyncResult(changes=changes)


def _accounts(wanted: GroupFile) -> dict[str, User]:
    """Existing accounts of the file's emails, by lower-cased email."""
    found: dict[str, User] = {}
    users = get_user_model().objects.annotate(lower_email=Lower("email"))
    for user in users.filter(lower_email__in=wanted.emails()):
        if user.lower_email in found:
            raise GroupFileRefused(
                [f"{user.lower_email}: two accounts have this email; an admin must merge them"]
            )
        found[user.lower_email] = user
    # An account may hold the email as one of allauth's addresses, not as its main one.
    addresses = EmailAddress.objects.annotate(lower_email=Lower("email")).select_related("user")
    for address in addresses.filter(lower_email__in=wanted.emails() - found.keys()):
        found.setdefault(address.lower_email, address.user)
    return found


def _members(group: str) -> dict[str, str]:
    """The group's members: user id (as text) -> what to call them (email, else username)."""
    rows = (
        get_user_model().objects.filter(groups__name=group).values_list("pk", "email", "username")
    )
    return {str(pk): (email.lower() or f"(no email: {username})") for pk, email, username in rows}


def _plan(wanted: GroupFile, accounts: dict[str, User]) -> list[Change]:
    changes = [Change(CREATE, "", email) for email in sorted(wanted.emails() - accounts.keys())]
    for group, emails in wanted.groups.items():
        members = _members(group)
        present = set(members.values())
        changes += [Change(ADD, group, email) for email in emails if email not in present]
        listed = set(emails)
        changes += [
            Change(REMOVE, group, shown)
            for shown in sorted(members.values())
            if shown not in listed
        ]
    return changes


def _set_members(group: Group, changes: Iterable[Change], accounts: dict[str, User]) -> None:
    add = [accounts[c.email] for c in changes if c.action == ADD and c.group == group.name]
    gone = {c.email for c in changes if c.action == REMOVE and c.group == group.name}
    group.user_set.add(*add)
    members = _members(group.name)
    group.user_set.remove(*[int(pk) for pk, shown in members.items() if shown in gone])


def _create_account(email: str) -> User:
    username = email if len(email) <= 150 else None
    user_model = get_user_model()
    if username is None or user_model.objects.filter(username=username).exists():
        username = get_adapter().generate_unique_username([email, "member"])
    user = user_model(username=username, email=email)
    user.set_unusable_password()  # they choose one through the invitation link
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def invitation_url(user: User, *, site_url: str) -> str:
    """A link to allauth's set-password page: its password-reset key, for PASSWORD_RESET_TIMEOUT."""
    key = allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(user)
    path = reverse(
        "account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": key}
    )
    return site_url.rstrip("/") + path


def _invite(users: list[User], *, site_url: str) -> dict[str, str]:
    failed: dict[str, str] = {}
    days = settings.PASSWORD_RESET_TIMEOUT // 86400
    login = site_url.rstrip("/") + reverse("account_login")
    for user in users:
        body = (
            f"An account on lakeweb was made for you ({user.email}).\n\n"
            f"Choose your password here (the link works for {days} days):\n"
            f"{invitation_url(user, site_url=site_url)}\n\n"
            f"If it has expired, use “Forgot password?” on {login}.\n"
        )
        try:
            send_mail("Your lakeweb account", body, None, [user.email])
        except Exception as exc:  # noqa: BLE001 - one failed mail must not stop the others
            logger.warning("invitation to %s not sent: %s", user.email, exc)
            failed[user.email] = str(exc) or type(exc).__name__
    return failed
