"""The shared runner of every job (NetBox's ``JobRunner``, for lakeweb).

``job_run`` claims the row under a lock (a finished job, or one a live worker
holds, is left alone), holds a lease that a thread renews while the body
works, gives the body a ``JobContext`` for progress, log and cancellation,
and ends the job: succeeded, queued again after a failure that can pass
(storage, network, database connection), or failed with a readable reason
and the kind's failure hook run. Every write of the job's own state waits out
a database blip, so a restart of PostgreSQL does not leave a job running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from lakeweb.errors import refusal_of
from lakeweb.logs import job_logging
from lakeweb.storage import StorageError

from .models import Job, JobStatus
from .registry import JobKind, kind_get

logger = logging.getLogger(__name__)
T = TypeVar("T")
LOG_LINES_KEPT = 5000
PROGRESS_EVERY_SECONDS = 1.0
CANCELLED = "cancelled on request"
# What the claim says of a job whose retry backoff has not ended.
WAIT = "not due yet"


class JobStopped(Exception):
    """The body must stop: the job was cancelled, or another worker holds it now."""


class JobCancelled(JobStopped):
    pass


class LeaseLost(JobStopped):
    pass


class TimeLimitReached(Exception):
    pass


def _token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str) -> bool:
    """The lease is held by a process of this machine that is no longer running it."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdecimal():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process is claiming, so it is not running the job
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def db_patient(write: Callable[[], T], *, seconds: float | None = None) -> T:
    """Run ``write`` (its own transaction), waiting out a database restart."""
    patience = settings.JOBS_DB_PATIENCE_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + patience
    delay = 0.5
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if time.monotonic() + delay > deadline:
                raise
            logger.warning("database unavailable (%s); trying again in %.1fs", exc, delay)
            connections["default"].close_if_unusable_or_obsolete()
            with contextlib.suppress(DatabaseError):
                connections["default"].close()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def retryable(exc: BaseException) -> bool:
    """Failures that can pass on their own: storage, network, database connection."""
    if isinstance(exc, StorageError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    try:
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError
    except ImportError:  # pragma: no cover - boto3 is a requirement
        return False
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return True
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        return code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}
    return False


def failure_reason(exc: BaseException) -> str:
    """What a person reads: a refusal's own messages, else the error's type and text."""
    refusal = refusal_of(exc) if isinstance(exc, Exception) else None
    if refusal is not None:
        return refusal.message
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _line(message: str) -> str:
    return f"{timezone.now():%Y-%m-%d %H:%M:%S} {message.rstrip()}\n"


def job_log(job_id: Any, message: str) -> None:
    """Append a timestamped line to a job's log (one UPDATE; safe beside other writers)."""
    Job.objects.filter(pk=job_id).update(log=Concat(F("log"), Value(_line(message))))


class _Lease(threading.Thread):
    """Renews the job's lease while the body works; notices loss and cancellation."""

    def __init__(self, job_id: Any, token: str) -> None:
        super().__init__(name=f"lease-{job_id}", daemon=True)
        self.job_id, self.token = job_id, token
        self.lost = self.cancelled = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        interval = settings.JOBS_LEASE_SECONDS / 4
        try:
            while not self._stop_event.wait(interval):
                try:
                    self.renew()
                except DatabaseError as exc:
                    logger.warning("job %s: lease not renewed: %s", self.job_id, exc)
        finally:
            connections.close_all()  # this thread's own connections

    def renew(self) -> None:
        renewed = Job.objects.filter(
            pk=self.job_id, lease_owner=self.token, status=JobStatus.RUNNING
        ).update(lease_expires_at=timezone.now() + timedelta(seconds=settings.JOBS_LEASE_SECONDS))
        row = Job.objects.filter(pk=self.job_id).values("lease_owner", "cancel_requested").first()
        if row is None:
            return  # not visible to this connection (a test's open transaction): nothing to say
        self.lost = not renewed and row["lease_owner"] != self.token
        self.cancelled = row["cancel_requested"]

    def stop(self) -> None:
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout=5)


class JobContext:
    """What a body gets: its job, progress, log, and the checks that stop it."""

    def __init__(self, job: Job, kind: JobKind, token: str, lease: _Lease) -> None:
        self.job, self.kind, self.token, self._lease = job, kind, token, lease
        self._deadline = time.monotonic() + kind.time_limit
        self._last_progress = 0.0
        self._log_lines = 0

    @property
    def parameters(self) -> dict[str, Any]:
        return self.job.parameters

    def check(self) -> None:
        """Raise if the body must stop: cancelled, lease lost, or past the time limit."""
        if self._lease.lost:
            raise LeaseLost(f"another worker holds job {self.job.pk} now")
        if self._lease.cancelled:
            raise JobCancelled("cancelled on request")
        if time.monotonic() > self._deadline:
            raise TimeLimitReached(f"ran past its time limit of {self.kind.time_limit} s")

    def progress(
        self,
        done: int,
        total: int | None = None,
        message: str | None = None,
        *,
        force: bool = False,
    ) -> None:
        """Record how far the work is (written at most once a second unless ``force``)."""
        self.check()
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_EVERY_SECONDS:
            return
        self._last_progress = now
        fields: dict[str, Any] = {"progress_done": done}
        if total is not None:
            fields["progress_total"] = total
        if message is not None:
            fields["progress_message"] = message[:500]
        held = Job.objects.filter(pk=self.job.pk, lease_owner=self.token).update(**fields)
        if not held:
            raise LeaseLost(f"another worker holds job {self.job.pk} now")
        for name, value in fields.items():
            setattr(self.job, name, value)

    def log(self, message: str) -> None:
        logger.info("%s", message)  # the worker's log too, with the job's request id
        self._log_lines += 1
        if self._log_lines < LOG_LINES_KEPT:
            job_log(self.job.pk, message)
        elif self._log_lines == LOG_LINES_KEPT:
            job_log(self.job.pk, f"(log cut at {LOG_LINES_KEPT} lines)")

    @contextlib.contextmanager
    def hold(self) -> Iterator[Job]:
        """A transaction in which this worker surely still holds the job: for the step
        that must happen once (sealing a dataset), whatever other worker may try."""
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=self.job.pk).first()
            if job is None or job.lease_owner != self.token or job.status != JobStatus.RUNNING:
                raise LeaseLost(f"another worker holds job {self.job.pk} now")
            yield job


def _claim(job_id: Any, token: str) -> tuple[Job | None, str | None]:
    """Lock the row and take it; or say why not. Returns (job, reason to fail it)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None, None
        try:
            kind_get(job.kind)
        except LookupError:
            # A worker of an older release: leave the job to one that knows it.
            logger.warning("job %s: kind %r is not registered on this worker", job.pk, job.kind)
            return None, None
        now = timezone.now()
        if job.status == JobStatus.RUNNING:
            held = job.lease_expires_at is not None and job.lease_expires_at > now
            if held and not _owner_gone(job.lease_owner):
                return None, None  # a live worker has it: a redelivery does nothing
            job.log += _line(f"the worker holding this job ({job.lease_owner}) was lost")
        elif job.not_before is not None and job.not_before > now:
            # A message that came before the retry's backoff ended (a duplicate, or
            # another machine's clock): not yet. Sent again for when it is due.
            return job, WAIT
        refusal = None
        if job.cancel_requested:
            refusal = CANCELLED
        elif job.attempts >= job.max_attempts:
            refusal = f"gave up after {job.attempts} attempts; see the log for each"
        if refusal is not None:
            job.save(update_fields=["log", "updated_at"])  # the lost worker stays named
            return job, refusal
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.lease_owner = token
        job.lease_expires_at = now + timedelta(seconds=settings.JOBS_LEASE_SECONDS)
        job.started_at = job.started_at or now
        job.log += _line(f"attempt {job.attempts} of {job.max_attempts} started on {token}")
        job.save()
        return job, None


def _end(
    job: Job, *, token: str | None, status: str, error: str = "", result: dict | None = None
) -> bool:
    """Finish the job unless it finished already or another worker holds it now."""
    with transaction.atomic():
        row = Job.objects.select_for_update().get(pk=job.pk)
        if row.is_finished or (token is not None and row.lease_owner != token):
            return False
        row.status = status
        row.error = error[:4000]
        row.result = result or {}
        row.finished_at = timezone.now()
        row.lease_owner, row.lease_expires_at = "", None
        if status == JobStatus.SUCCEEDED and row.progress_total:
            row.progress_done = row.progress_total
        row.log += _line(f"{status}" + (f": {error}" if error else ""))
        row.save()
    job.refresh_from_db()
    return True


def _release(job: Job, *, token: str, reason: str, delay: int) -> bool:
    """Put the job back in the queue after a failure that can pass."""
    not_before = timezone.now() + timedelta(seconds=delay)
    released = Job.objects.filter(pk=job.pk, lease_owner=token, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED,
        lease_owner="",
        lease_expires_at=None,
        sent_at=None,
        not_before=not_before,
        log=Concat(F("log"), Value(_line(f"{reason}; trying again in {delay} s"))),
    )
    return bool(released)


def job_fail(
    job: Job, *, reason: str, token: str | None = None, status: str = JobStatus.FAILED
) -> None:
    """End a job failed (or cancelled) with its reason, then run its kind's failure hook."""
    if not db_patient(lambda: _end(job, token=token, status=status, error=reason)):
        return
    kind = kind_get(job.kind)
    if kind.on_fail is None:
        return
    try:
        db_patient(lambda: kind.on_fail(job, reason))  # type: ignore[misc]
    except Exception as exc:
        # The job has ended; its log says what the clean-up hit.
        logger.exception("job %s: failure hook of %s failed", job.pk, kind.name)
        line = f"clean-up after the failure failed: {exc}"
        db_patient(lambda: job_log(job.pk, line))


def _backoff(attempts: int) -> int:
    return min(settings.JOBS_RETRY_BACKOFF_MAX, settings.JOBS_RETRY_BACKOFF * 2 ** (attempts - 1))


def job_run(*, job_id: Any) -> Job | None:
    """Claim and run one job to its end (or back to the queue). Returns it, or None
    when there was nothing to do (finished, held by a live worker, or not due yet)."""
    token = _token()
    job, refusal = db_patient(lambda: _claim(job_id, token))
    if job is None:
        return None
    if refusal == WAIT:
        from .services import job_send

        assert job.not_before is not None  # WAIT says so
        job_send(job, countdown=max(0.0, (job.not_before - timezone.now()).total_seconds()))
        return None
    if refusal == CANCELLED:
        job_fail(job, reason=CANCELLED, status=JobStatus.CANCELLED)
        return job
    if refusal is not None:
        job_fail(job, reason=refusal)
        return job
    kind = kind_get(job.kind)
    lease = _Lease(job.pk, token)
    lease.start()
    try:
        with job_logging(job):
            _run_body(job, kind, token, lease)
    finally:
        lease.stop()
    return job


def _run_body(job: Job, kind: JobKind, token: str, lease: _Lease) -> None:
    from .services import job_send

    try:
        result = kind.body(JobContext(job, kind, token, lease))
    except LeaseLost as exc:
        logger.warning("job %s: %s; this worker stops", job.pk, exc)
    except JobCancelled:
        job_fail(job, reason=CANCELLED, token=token, status=JobStatus.CANCELLED)
    except (TimeLimitReached, SoftTimeLimitExceeded):
        job_fail(job, reason=f"ran past its time limit of {kind.time_limit} s", token=token)
    except Exception as exc:  # noqa: BLE001 - every failure ends the job or retries it
        reason = failure_reason(exc)
        logger.warning("job %s (%s) attempt %s failed: %s", job.pk, kind.name, job.attempts, reason)
        if retryable(exc) and job.attempts < job.max_attempts:
            delay = _backoff(job.attempts)
            if db_patient(lambda: _release(job, token=token, reason=reason, delay=delay)):
                job_send(job, countdown=delay)
        else:
            job_fail(job, reason=reason, token=token)
    else:
        db_patient(lambda: _end(job, token=token, status=JobStatus.SUCCEEDED, result=result))
