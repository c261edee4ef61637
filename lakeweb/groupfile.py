"""The group file of ``manage.py sync_groups``: YAML mapping each group to a list of emails.

```yaml
viewer:
  - ana@lab.example
member:
  - ben@lab.example
curator: []          # an empty list (or nothing) removes every member
```

Every problem is collected and named with its line before anything changes:
YAML errors, a group that does not exist, a group listed twice, a value that
is not a list, an entry that is not an email address, and an email listed
twice in one group (in any case). One email in several groups is allowed (a
curator can also be in a group an admin made).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .errors import BadInput, TooLarge

MAX_BYTES = 1024 * 1024  # a roster of thousands fits in a few hundred KiB
MAX_EMAILS = 20_000
MAX_PROBLEMS = 50  # shown; the rest are counted
EMAIL_MAX_LENGTH = 254  # RFC 5321 path limit, and Django's EmailField
NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"


class GroupFileRefused(BadInput):
    """The file is wrong; ``problems`` lists each with its line."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"… and {len(problems) - MAX_PROBLEMS} more problems")
        super().__init__("\n".join(shown))
        self.problems = shown


@dataclass
class GroupFile:
    """Group name -> emails (lower-cased, in file order), and where each was read."""

    groups: dict[str, list[str]] = field(default_factory=dict)
    lines: dict[tuple[str, str], int] = field(default_factory=dict)

    def emails(self) -> set[str]:
        return {email for emails in self.groups.values() for email in emails}


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def group_file_parse(data: bytes, *, known_groups: set[str]) -> GroupFile:
    """Read and check a group file; GroupFileRefused lists every problem, each with its line."""
    if len(data) > MAX_BYTES:
        raise TooLarge(f"The file is larger than {MAX_BYTES:,} bytes.")
    try:
        root = yaml.compose(data.decode("utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise GroupFileRefused([f"byte {exc.start}: the file is not UTF-8 text"]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else "the file"
        raise GroupFileRefused([f"{where}: not valid YAML: {exc.problem or exc}"]) from None
    except yaml.YAMLError as exc:
        raise GroupFileRefused([f"the file: not valid YAML: {exc}"]) from None
    if root is None:
        raise GroupFileRefused(["line 1: the file is empty: map each group to a list of emails"])
    if not isinstance(root, yaml.MappingNode):
        raise GroupFileRefused(
            [f"line {_line(root)}: the file must map group names to lists of emails"]
        )
    return _read_groups(root, known_groups)


def _read_groups(root: yaml.MappingNode, known_groups: set[str]) -> GroupFile:
    found, problems = GroupFile(), []
    first_seen: dict[str, int] = {}
    for key, value in root.value:
        line = _line(key)
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if not isinstance(name, str) or key.tag != STR_TAG:
            problems.append(f"line {line}: a group name must be plain text")
            continue
        if name in first_seen:
            problems.append(
                f"line {line}: group {name!r} is listed twice (first on line {first_seen[name]})"
            )
            continue
        first_seen[name] = line
        if name not in known_groups:
            names = ", ".join(sorted(known_groups)) or "none"
            problems.append(f"line {line}: unknown group {name!r} (the groups are: {names})")
            continue
        found.groups[name] = _read_emails(name, value, found, problems)
    count = sum(len(emails) for emails in found.groups.values())
    if count > MAX_EMAILS:
        problems.append(f"the file: {count:,} entries, more than the {MAX_EMAILS:,} allowed")
    if problems:
        raise GroupFileRefused(problems)
    return found


def _read_emails(group: str, node: yaml.Node, found: GroupFile, problems: list[str]) -> list[str]:
    if isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG:
        return []  # "curator:" with nothing after it: no members
    if not isinstance(node, yaml.SequenceNode):
        problems.append(f"line {_line(node)}: group {group!r} must be a list of emails")
        return []
    emails: list[str] = []
    for item in node.value:
        email = _email(item, problems)
        if email is None:
            continue
        if (group, email) in found.lines:
            first = found.lines[(group, email)]
            problems.append(
                f"line {_line(item)}: {email} is listed twice in {group!r} (first on line {first})"
            )
            continue
        found.lines[(group, email)] = _line(item)
        emails.append(email)
    return emails


def _email(node: yaml.Node, problems: list[str]) -> str | None:
    line = _line(node)
    if not isinstance(node, yaml.ScalarNode) or node.tag != STR_TAG:
        problems.append(f"line {line}: an entry must be one email address")
        return None
    text = node.value.strip()
    try:
        if len(text) > EMAIL_MAX_LENGTH:
            raise ValidationError("too long")
        validate_email(text)
    except ValidationError:
        shown = text if len(text) <= 80 else text[:80] + "…"
        problems.append(f"line {line}: {shown!r} is not an email address")
        return None
    return text.lower()
