"""Celery tasks of the job runner: thin, a job id in and the runner called.

Every job goes through ``job_run_task`` on its kind's queue, with its kind's
time limit (given when sent). ``acks_late`` with ``reject_on_worker_lost``:
a message is acknowledged only when the attempt has ended, and the claim
makes a redelivery harmless.
"""

from __future__ import annotations

from celery import shared_task

from .runner import job_run
from .services import jobs_sweep


@shared_task(name="lakeweb.jobs.run", acks_late=True, reject_on_worker_lost=True)
def job_run_task(job_id: str) -> None:
    job_run(job_id=job_id)


@shared_task(name="lakeweb.jobs.sweep", time_limit=300, soft_time_limit=240)
def jobs_sweep_task() -> dict[str, int]:
    """Every minute (beat): re-queue jobs of lost workers, send what the broker never got."""
    return jobs_sweep()
