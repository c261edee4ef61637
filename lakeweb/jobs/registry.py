"""The kinds of long work: each supplies its body; the runner does the rest.

An app registers its kinds in ``<app>/jobs.py``, imported by its AppConfig::

    @job_kind("promotion", label="Promotion", queue=QUEUE_DEFAULT, time_limit=6 * 3600)
    def promotion_body(ctx: JobContext) -> dict: ...

The body must be safe to run again (a lost worker's job is run again from the
top): it keeps its progress in rows and skips what an earlier attempt did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job
    from .runner import JobContext

# Quick work; long work (backups, fixity, restore, drills); pipeline runs.
QUEUE_DEFAULT = "default"
QUEUE_LONG = "long"
QUEUE_PIPELINES = "pipelines"
QUEUES = (QUEUE_DEFAULT, QUEUE_LONG, QUEUE_PIPELINES)

Body = Callable[["JobContext"], dict[str, Any] | None]
FailHook = Callable[["Job", str], None]


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    body: Body
    queue: str = QUEUE_DEFAULT
    # Seconds a single attempt may run; past it the attempt fails with that reason.
    time_limit: int = 3600
    max_attempts: int = 5
    # Runs once when the job ends failed or cancelled (marks what it made failed,
    # removes what it staged). Must be idempotent: it may run again after a crash.
    on_fail: FailHook | None = None


_KINDS: dict[str, JobKind] = {}


def job_kind(
    name: str,
    *,
    label: str,
    queue: str = QUEUE_DEFAULT,
    time_limit: int = 3600,
    max_attempts: int = 5,
    on_fail: FailHook | None = None,
) -> Callable[[Body], Body]:
    """Register ``body`` as the work of jobs of kind ``name``."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(body: Body) -> Body:
        _KINDS[name] = JobKind(name, label, body, queue, time_limit, max_attempts, on_fail)
        return body

    return register


def kind_get(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r} is registered") from None


def kinds_all() -> list[JobKind]:
    return sorted(_KINDS.values(), key=lambda kind: kind.label)
