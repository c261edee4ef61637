"""First-admin setup link (SPEC §1: never "first visitor wins").

The run command prints a signed link; it works only while no superuser
exists and for a day, so once the first admin is made it is dead.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.db import transaction

SALT = "lakeweb.first-admin"
MAX_AGE_SECONDS = 24 * 3600


class SetupClosed(Exception):
    """Setup is done already, or the link is wrong or too old."""


def setup_needed() -> bool:
    return not get_user_model().objects.filter(is_superuser=True).exists()


def setup_token_make() -> str:
    return signing.dumps({"purpose": "first-admin"}, salt=SALT)


def setup_token_check(token: str) -> None:
    try:
        signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        raise SetupClosed("This setup link is not valid or has expired.") from None
    if not setup_needed():
        raise SetupClosed("lakeweb already has an admin; this setup link is no longer valid.")


@transaction.atomic
def first_admin_create(*, token: str, email: str, password: str) -> User:
    """Create the first superuser, once."""
    user_model = get_user_model()
    # Lock out a concurrent second use of the same link.
    list(user_model.objects.select_for_update().filter(is_superuser=True))
    setup_token_check(token)
    user = user_model.objects.create_superuser(username=email, email=email, password=password)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user
