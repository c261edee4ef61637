"""Fixity batches and reconciliations the tests run in their own process, as a worker runs them."""

from __future__ import annotations

from backups.fixity import FIXITY_KIND
from backups.fixity_status import fixity_request
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run


def run_to_success(kind: str = FIXITY_KIND) -> Job:
    """One job of ``kind`` (a fixity batch unless told), run to success."""
    job = fixity_request(kind=kind, user=None)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.log + job.error
    return job


def run_batch() -> Job:
    """One fixity batch, run to success."""
    return run_to_success(FIXITY_KIND)
