"""Snapshots the backup tests take, run in the test's process as a worker runs them."""

from __future__ import annotations

from backups.models import BackupJob, BackupKind
from backups.services import backup_request
from lakeweb.jobs.runner import job_run


def snapshot(kind: str = BackupKind.MANUAL) -> BackupJob:
    """A complete snapshot of the lake as it is now."""
    backup = backup_request(kind=kind, user=None)
    job_run(job_id=backup.job_id)
    backup.refresh_from_db()
    assert backup.complete, backup.job.log
    return backup


def name_of(backup: BackupJob) -> str:
    """The snapshot's name, as `manage.py restore` and the API take it."""
    return backup.prefix.removeprefix("snapshots/").strip("/")
