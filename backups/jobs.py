"""The backups app's kinds of long work, registered with the job runner."""

from __future__ import annotations

from django.conf import settings

from lakeweb.jobs.registry import QUEUE_LONG, job_kind

from .fixity import FIXITY_KIND, fixity_body
from .reconcile import RECONCILE_KIND, reconcile_body
from .services import backup_on_fail, restore_body, retention_body, snapshot_body
from .services.drill import DRILL_KIND, drill_body, drill_on_fail

job_kind(
    "backup",
    label="Backup",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=3,
    on_fail=backup_on_fail,
)(snapshot_body)

job_kind(
    "restore",
    label="Restore",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=3,
)(restore_body)

job_kind(
    DRILL_KIND,
    label="Restore drill",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=3,
    on_fail=drill_on_fail,
)(drill_body)

job_kind(
    "backup_retention",
    label="Backup retention",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=3,
)(retention_body)

# --- fixity: scheduled batches and the reconciliation pass (backups/fixity.py) ---
job_kind(
    FIXITY_KIND,
    label="Fixity batch",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=5,
)(fixity_body)
job_kind(
    RECONCILE_KIND,
    label="Reconciliation",
    queue=QUEUE_LONG,
    time_limit=settings.JOBS_LONGEST_SECONDS,
    max_attempts=3,
)(reconcile_body)
