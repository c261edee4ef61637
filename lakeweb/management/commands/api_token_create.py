"""Make an API token for a user from the command line; the key is printed once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from lakeweb.errors import ActionRefused
from lakeweb.tokens.forms import MAX_DAYS
from lakeweb.tokens.services import api_token_create


def _days(text: str) -> int:
    days = int(text) if text.isdigit() and len(text) <= 5 else 0
    if not 1 <= days <= MAX_DAYS:
        raise CommandError(f"--expires-days: give a whole number from 1 to {MAX_DAYS}.")
    return days


class Command(BaseCommand):
    help = "Make an API token for the user with this email (or username) and print its key once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="email or username")
        parser.add_argument("--name", default="", help="what the token is for")
        parser.add_argument("--read-only", action="store_true", help="reads only (GET)")
        parser.add_argument("--expires-days", type=_days, help=f"1 to {MAX_DAYS} days")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        who = options["user"]
        user = users.filter(email__iexact=who).first() or users.filter(username=who).first()
        if user is None:
            raise CommandError(f"No user has the email or username {who!r}.")
        days = options["expires_days"]
        try:
            token, key = api_token_create(
                user=user,
                name=options["name"][:100],
                read_only=options["read_only"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
        except ActionRefused as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Token {token.prefix}… made for {user}; the key, shown only now:")
        self.stdout.write(key)
