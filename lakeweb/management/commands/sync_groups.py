"""``manage.py sync_groups groups.yml [--dry-run]``: group membership from a file.

The work is ``lakeweb.groups_sync.groups_sync``; this reads the file and prints the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from lakeweb.errors import BadInput
from lakeweb.groupfile import MAX_BYTES
from lakeweb.groups_sync import Change, groups_sync


def plan_table(changes: list[Change]) -> list[str]:
    """The changes as an aligned text table."""
    rows = [("ACTION", "GROUP", "EMAIL")] + [(c.action, c.group or "-", c.email) for c in changes]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"{a:<{widths[0]}}  {g:<{widths[1]}}  {e}" for a, g, e in rows]


class Command(BaseCommand):
    help = (
        "Make group membership match a YAML file mapping each group to a list of emails: "
        "adds and removes members, creates missing accounts and invites them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="YAML file: group name -> list of emails")
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument(
            "--site-url",
            default=settings.LAKEWEB_SITE_URL,
            help="address in invitation links (default LAKEWEB_SITE_URL)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data = self._read(options["file"])
        try:
            result = groups_sync(
                data=data, dry_run=options["dry_run"], site_url=options["site_url"]
            )
        except BadInput as exc:
            raise CommandError(
                f"{options['file']} is refused; nothing was changed:\n{exc}"
            ) from None
        self._report(result.changes, dry_run=options["dry_run"])
        if result.not_invited:
            lines = [f"  {email}: {why}" for email, why in result.not_invited.items()]
            raise CommandError(
                "The accounts were made but these invitations were not sent (they can use "
                "“Forgot password?” on the login page):\n" + "\n".join(lines)
            )

    def _read(self, path: Path) -> bytes:
        try:
            with path.open("rb") as stream:
                return stream.read(MAX_BYTES + 1)  # one byte more tells "too large"
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None

    def _report(self, changes: list[Change], *, dry_run: bool) -> None:
        if not changes:
            self.stdout.write("Nothing to change: the groups already match the file.")
            return
        for line in plan_table(changes):
            self.stdout.write(line)
        counts = {
            a: sum(c.action == a for c in changes) for a in ("create account", "add", "remove")
        }
        summary = (
            f"{counts['create account']} account(s) to create, "
            f"{counts['add']} membership(s) to add, {counts['remove']} to remove"
        )
        if dry_run:
            self.stdout.write(f"{summary}. Dry run: nothing was changed.")
        else:
            done = (
                f"Done: {counts['create account']} account(s) created, "
                f"{counts['add']} membership(s) added, {counts['remove']} removed."
            )
            self.stdout.write(self.style.SUCCESS(done))
