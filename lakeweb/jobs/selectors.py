"""Job reads: the staff list with filters, one job, and the jobs of one object."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from .models import Job, JobStatus


def jobs_list(*, kind: str = "", status: str = "", limit: int = 200) -> QuerySet[Job]:
    """Jobs newest first, filtered; the list defers the log (it can be long)."""
    jobs = Job.objects.select_related("requested_by").defer("log", "parameters", "result")
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at")[:limit]


def job_get(*, pk: Any) -> Job | None:
    return Job.objects.select_related("requested_by").filter(pk=pk).first()


def jobs_for(*, subject: models.Model, limit: int = 20) -> QuerySet[Job]:
    """The jobs that concern one object (a dataset…), newest first."""
    return (
        Job.objects.filter(
            subject_type=ContentType.objects.get_for_model(subject), subject_id=str(subject.pk)
        )
        .select_related("requested_by")
        .defer("log")
        .order_by("-created_at")[:limit]
    )


def job_message(job: Job) -> str:
    """A job's state in a sentence, for the page and the API (the outbox made visible)."""
    if job.status == JobStatus.QUEUED and job.sent_at is None:
        return "Queued. The task queue is unavailable right now; the job runs once it is back."
    if job.status == JobStatus.QUEUED:
        return "Queued; a worker will start it shortly."
    if job.status == JobStatus.RUNNING:
        total = f" of {job.progress_total}" if job.progress_total else ""
        return f"Running: {job.progress_done}{total} done."
    if job.status == JobStatus.FAILED:
        return f"Failed: {job.error}"
    return job.get_status_display().capitalize() + "."
