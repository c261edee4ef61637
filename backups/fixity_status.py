"""Fixity as people see it: coverage, the last runs, open failures and what they touch.

Read by the fixity page and the API (curators and admins); the request
service queues a batch or a reconciliation now, as beat does on schedule.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import FixityFailure
from lakeweb.errors import PermissionRefused
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.services import job_request
from provenance.selectors import descendants

from .fixity import FIXITY_KIND, checked_files, fixity_plan
from .fixity_blobs import checked_blobs
from .reconcile import RECONCILE_KIND

FIXITY_PERMISSION = "catalog.view_fixityfailure"
RUNS_SHOWN = 10
FAILURES_SHOWN = 100


def fixity_permission_check(user: User | None) -> None:
    """Curators and admins only (the schedule, ``user`` None, always)."""
    if user is not None and not user.has_perm(FIXITY_PERMISSION):
        raise PermissionRefused("Only curators and admins can see and run fixity checks.")


def fixity_request(*, kind: str, user: User | None) -> Job:
    """Queue a fixity batch or a reconciliation; the live one if one is queued or running.

    Two batches at once would take the same least-verified files (twice the
    reading, nothing wrong), so a live job is returned instead.
    """
    fixity_permission_check(user)
    if kind not in (FIXITY_KIND, RECONCILE_KIND):
        raise ValueError(f"unknown fixity kind {kind!r}")
    with transaction.atomic():
        live = Job.objects.filter(kind=kind, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        found = live.order_by("created_at").first()
        return found or job_request(kind=kind, requested_by=user)


def fixity_coverage(*, now: datetime | None = None) -> dict[str, Any]:
    """How much of the lake (the layers' files and the backup store's blobs) was verified
    within the cycle, and the plan of the next batch.

    Costs twelve aggregate queries (six of them the plan's).
    """
    now = now or timezone.now()
    since = now - timedelta(days=settings.FIXITY_CYCLE_DAYS)
    counts = {
        name: (
            rows.count(),
            rows.filter(verified_at__gte=since).count(),
            rows.filter(verified_at__isnull=True).count(),
        )
        for name, rows in (("files", checked_files()), ("blobs", checked_blobs()))
    }
    total, within, never = (sum(c[i] for c in counts.values()) for i in range(3))
    return {
        "cycle_days": settings.FIXITY_CYCLE_DAYS,
        "interval_minutes": settings.FIXITY_INTERVAL_MINUTES,
        "bytes_per_hour": settings.FIXITY_BYTES_PER_HOUR or None,
        "objects": total,
        "verified_within_cycle": within,
        "never_verified": never,
        "blobs": counts["blobs"][0],
        "blobs_verified_within_cycle": counts["blobs"][1],
        "percent": round(100 * within / total, 1) if total else 100.0,
        "plan": asdict(fixity_plan(now=now)),
    }


def fixity_runs(*, limit: int = RUNS_SHOWN) -> list[Job]:
    """The last fixity batches and reconciliations, newest first."""
    kinds = Q(kind=FIXITY_KIND) | Q(kind=RECONCILE_KIND)
    return list(Job.objects.filter(kinds).order_by("-created_at")[:limit])


def fixity_failures_open(*, limit: int = FAILURES_SHOWN) -> list[dict[str, Any]]:
    """Open failures, newest first, each with its dataset and that dataset's descendants.

    One query for the failures, then one walk of the provenance graph per
    affected dataset (a few queries each, bounded by provenance's node limit).
    """
    failures = (
        FixityFailure.objects.filter(resolved_at__isnull=True)
        .select_related("dataset", "datafile")
        .order_by("-found_at")[:limit]
    )
    walked: dict[Any, list[Any]] = {}
    rows = []
    for failure in failures:
        if failure.dataset_id and failure.dataset_id not in walked:
            walked[failure.dataset_id] = descendants(dataset_id=failure.dataset_id)
        rows.append({"failure": failure, "descendants": walked.get(failure.dataset_id, [])})
    return rows


def fixity_failures_open_count() -> int:
    return FixityFailure.objects.filter(resolved_at__isnull=True).count()
