"""Asking for backup work: snapshots, retention passes and restores are each a job."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from catalog.services import PermissionRefused
from lakeweb.jobs.models import Job
from lakeweb.jobs.services import job_request

from ..models import BackupJob


def backup_request(*, kind: str, user: User | None) -> BackupJob:
    """Queue a snapshot job (sent to a worker after commit; by the sweep if the broker is down)."""
    if user is not None and not user.has_perm("backups.trigger_backup"):
        raise PermissionRefused("Only curators and admins can trigger backups.")
    with transaction.atomic():
        job = job_request(kind="backup", requested_by=user, parameters={"kind": kind})
        backup = BackupJob.objects.create(job=job, kind=kind)
    return backup


def backup_on_fail(job: Job, reason: str) -> None:
    """A snapshot that failed: its row says why (its manifest was never written).

    Run again after a crash, it records the reason once; errors already listed stay.
    """
    backup = BackupJob.objects.filter(job=job).first()
    if backup is not None and not backup.errors:
        backup.errors = [reason[:2000]]
        backup.error_count = len(backup.errors)
        backup.save(update_fields=["errors", "error_count"])
