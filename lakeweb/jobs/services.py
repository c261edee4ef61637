"""Job writes: request (the row is the outbox), send, cancel, and the sweep."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from lakeweb.audit.services import audit_event
from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.logs import NONE, request_id_current

from .models import Job, JobStatus
from .registry import kind_get
from .runner import _line, job_fail

logger = logging.getLogger(__name__)


def job_request(
    *,
    kind: str,
    requested_by: User | None = None,
    parameters: dict[str, Any] | None = None,
    subject: models.Model | None = None,
    unique_key: str | None = None,
) -> Job:
    """Write a queued job in the caller's transaction; it is sent to a worker after commit.

    When the broker cannot take it, the job stays queued with ``sent_at`` empty
    and the sweep sends it once the broker is back: the caller can answer
    "queued" truthfully either way. A live job with the same ``unique_key``
    makes the create fail (IntegrityError) for the caller to refuse.
    """
    spec = kind_get(kind)
    job = Job.objects.create(
        kind=kind,
        queue=spec.queue,
        max_attempts=spec.max_attempts,
        requested_by=requested_by if requested_by and requested_by.is_authenticated else None,
        parameters=parameters or {},
        subject_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
        subject_id=str(subject.pk) if subject is not None else "",
        unique_key=unique_key,
        request_id="" if request_id_current() == NONE else request_id_current(),
    )
    # In the same transaction: a refused request (its unique key taken) leaves no entry.
    audit_event(subject=job, event="job requested", actor=job.requested_by, details={"kind": kind})
    transaction.on_commit(lambda: job_send(job))
    return job


def job_send(job: Job, *, countdown: float | None = None) -> bool:
    """Hand the job to the broker; False (and the job left for the sweep) if it is down."""
    from .tasks import job_run_task

    spec = kind_get(job.kind)
    try:
        job_run_task.apply_async(
            args=[str(job.pk)],  # type: ignore[arg-type]  # celery takes a list too
            queue=job.queue,
            countdown=countdown,  # type: ignore[arg-type]  # None (the default) is allowed
            soft_time_limit=spec.time_limit,
            time_limit=spec.time_limit + settings.JOBS_HARD_LIMIT_GRACE,
        )
    except Exception as exc:  # noqa: BLE001 - whatever the broker says, the row is the outbox
        logger.warning("job %s not sent (broker unavailable?): %s", job.pk, exc)
        return False
    job.sent_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(sent_at=job.sent_at)
    return True


def job_cancel(*, job: Job, user: User) -> Job:
    """Cancel a queued job now, or ask a running one to stop at its next check."""
    if not (user.is_staff or (job.requested_by_id and job.requested_by_id == user.pk)):
        raise PermissionRefused("Only staff and the person who asked for a job can cancel it.")
    with transaction.atomic():
        row = Job.objects.select_for_update().get(pk=job.pk)
        if row.is_finished:  # read under the lock: it may have ended since the page showed it
            raise ActionRefused(f"This job has already ended ({row.status}).")
        row.cancel_requested = True
        row.log += _line(f"cancel requested by {user.get_username()}")
        row.save(update_fields=["cancel_requested", "log", "updated_at"])
    if row.status == JobStatus.QUEUED:
        job_fail(row, reason="cancelled on request", status=JobStatus.CANCELLED)
    row.refresh_from_db()
    return row


def jobs_sweep() -> dict[str, int]:
    """Re-queue jobs whose worker was lost; send jobs the broker never got.

    A running job whose lease expired has lost its worker (SIGKILL, a node
    gone): it goes back to the queue and runs again, from where its rows say
    it got to. A queued job never sent (broker down at the time), or sent so
    long ago that the broker may have lost it, is sent again; a duplicate
    message is harmless (the claim does nothing for a job held or finished).
    """
    now = timezone.now()
    lost = _requeue_lost(now)
    for job in Job.objects.filter(pk__in=lost):
        job_send(job)  # at once: no grace, the lapsed lease says nobody has it
    requeued = len(lost)
    unsent = Q(sent_at__isnull=True, created_at__lt=now - timedelta(seconds=10))
    stale = Q(sent_at__lt=now - timedelta(seconds=settings.JOBS_RESEND_AFTER_SECONDS))
    due = Q(not_before__isnull=True) | Q(not_before__lte=now)
    waiting = Job.objects.filter(Q(status=JobStatus.QUEUED) & due & (unsent | stale))
    sent = sum(job_send(job) for job in waiting.order_by("created_at")[:1000])
    if requeued or sent:
        logger.info("jobs sweep: %s re-queued after a lost worker, %s sent", requeued, sent)
    return {"requeued": requeued, "sent": sent}


def _requeue_lost(now: Any) -> list[Any]:
    with transaction.atomic():
        lost = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=JobStatus.RUNNING, lease_expires_at__lt=now)
            .values_list("pk", "lease_owner")[:1000]
        )
        for pk, owner in lost:
            Job.objects.filter(pk=pk).update(
                status=JobStatus.QUEUED,
                lease_owner="",
                lease_expires_at=None,
                sent_at=None,
                not_before=None,
                log=Concat(F("log"), Value(_line(f"worker {owner} lost (lease expired)"))),
            )
    return [pk for pk, _owner in lost]
