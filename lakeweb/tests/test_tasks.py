"""The job runner: claim, lease, retries, failure hooks, cancel, time limit, sweep, pages.

The kinds here are registered by the tests themselves (and removed after):
the runner is the thing under test, and a body that raises exactly the error
a test needs says more than a real service made to fail. Sending a message
is captured at ``job_run_task.apply_async``; the broker is not what these
tests are about (``test_jobs_faults.py`` runs a real one).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.urls import reverse
from django.utils import timezone

from conftest import ROLES
from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.jobs import registry
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.registry import job_kind
from lakeweb.jobs.runner import JobContext, LeaseLost, db_patient, job_fail, job_run
from lakeweb.jobs.services import job_cancel, job_request, jobs_sweep
from lakeweb.jobs.tasks import job_run_task, jobs_sweep_task
from lakeweb.storage import StorageError

pytestmark = pytest.mark.django_db

Body = Callable[[JobContext], dict[str, Any] | None]


@dataclass
class Kinds:
    """Test kinds registered for one test; ``failed`` lists each failure hook call."""

    names: list[str] = field(default_factory=list)
    failed: list[tuple[Any, str]] = field(default_factory=list)

    def add(self, body: Body, *, on_fail: Any = "record", **options: Any) -> str:
        name = f"test-{uuid.uuid4().hex[:8]}"
        hook = self._record if on_fail == "record" else on_fail
        job_kind(name, label=f"Test kind {name}", on_fail=hook, **options)(body)
        self.names.append(name)
        return name

    def _record(self, job: Job, reason: str) -> None:
        self.failed.append((job.pk, reason))


@pytest.fixture
def kinds() -> Iterator[Kinds]:
    made = Kinds()
    yield made
    for name in made.names:
        registry._KINDS.pop(name, None)


@pytest.fixture
def sends(monkeypatch) -> list[dict[str, Any]]:
    """Each message handed to the broker: its job id and options (queue, countdown…)."""
    sent: list[dict[str, Any]] = []

    def apply_async(args: list[str], **options: Any) -> None:
        sent.append({"job": args[0], **options})

    monkeypatch.setattr(job_run_task, "apply_async", apply_async)
    return sent


def succeed(ctx: JobContext) -> dict[str, Any]:
    return {"ok": True}


def raising(exc: BaseException) -> Body:
    def body(ctx: JobContext) -> None:
        raise exc

    return body


def queued_job(kind: str, **fields: Any) -> Job:
    """A job as a request makes it (not yet sent), with ``fields`` then set on its row."""
    job = job_request(kind=kind)
    if fields:
        Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


def dead_pid() -> int:
    """The pid of a process of this machine that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --- success ------------------------------------------------------------------------


def test_a_body_that_returns_stores_its_result_and_progress_reaches_the_total(kinds, sends) -> None:
    def body(ctx: JobContext) -> dict[str, Any]:
        ctx.progress(3, 10, "copying", force=True)
        ctx.log("three of ten copied")
        return {"files": 10}

    job = queued_job(kinds.add(body))

    assert job_run(job_id=job.pk) is not None

    job = reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.error == ""
    assert job.result == {"files": 10}
    assert job.progress_done == job.progress_total == 10 and job.percent == 100
    assert job.attempts == 1 and job.finished_at is not None
    assert job.lease_owner == "" and job.lease_expires_at is None
    assert "three of ten copied" in job.log and job.log.rstrip().endswith("succeeded")
    assert kinds.failed == [] and sends == []


def test_a_redelivered_task_of_a_finished_job_does_nothing(kinds) -> None:
    calls: list[int] = []

    def body(ctx: JobContext) -> None:
        calls.append(1)

    job = queued_job(kinds.add(body))

    job_run_task.apply(args=[str(job.pk)])
    job_run_task.apply(args=[str(job.pk)])

    assert calls == [1]
    assert reload(job).status == JobStatus.SUCCEEDED and reload(job).attempts == 1


# --- retries, attempts and failure hooks ----------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        StorageError("the store did not answer"),
        ConnectionError("connection reset by peer"),
        OperationalError("server closed the connection unexpectedly"),
    ],
    ids=["storage", "connection", "database"],
)
def test_a_retryable_error_puts_the_job_back_in_the_queue_and_sends_it_again(
    kinds, sends, settings, error
) -> None:
    settings.JOBS_RETRY_BACKOFF = 7
    first_sent = timezone.now() - timedelta(hours=1)
    job = queued_job(kinds.add(raising(error)), sent_at=first_sent)

    before = timezone.now()
    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.error == ""
    assert job.not_before is not None and job.not_before >= before + timedelta(seconds=7)
    assert job.sent_at is not None and job.sent_at > first_sent
    assert job.lease_owner == "" and job.lease_expires_at is None
    assert f"{type(error).__name__}: {error}; trying again in 7 s" in job.log
    assert [(s["job"], s["countdown"], s["queue"]) for s in sends] == [(str(job.pk), 7, "default")]
    assert kinds.failed == []


def test_a_message_that_comes_before_the_backoff_ends_is_sent_again_for_when_it_is_due(
    kinds, sends
) -> None:
    ran: list[int] = []
    job = queued_job(
        kinds.add(lambda ctx: ran.append(1) or {}),
        not_before=timezone.now() + timedelta(seconds=30),
    )

    assert job_run(job_id=job.pk) is None

    job = reload(job)
    assert ran == [] and job.status == JobStatus.QUEUED and job.attempts == 0
    assert [s["job"] for s in sends] == [str(job.pk)] and 25 < sends[0]["countdown"] <= 30
    Job.objects.filter(pk=job.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    assert job_run(job_id=job.pk) is not None
    assert ran == [1] and reload(job).status == JobStatus.SUCCEEDED


def test_each_retry_waits_twice_as_long_and_the_last_attempt_fails_with_the_reason(
    kinds, sends, settings
) -> None:
    settings.JOBS_RETRY_BACKOFF = 5
    job = queued_job(kinds.add(raising(ConnectionError("no route to host")), max_attempts=3))

    for _ in range(3):
        job_run(job_id=job.pk)
        Job.objects.filter(pk=job.pk).update(not_before=None)  # its backoff has passed

    job = reload(job)
    assert [s["countdown"] for s in sends] == [5, 10]
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error == "ConnectionError: no route to host"
    assert job.log.count("trying again") == 2
    assert kinds.failed == [(job.pk, "ConnectionError: no route to host")]


def test_a_job_that_has_used_its_attempts_is_failed_by_the_claim_and_its_hook_runs_once(
    kinds, sends
) -> None:
    calls: list[int] = []

    def body(ctx: JobContext) -> None:
        calls.append(1)

    job = queued_job(kinds.add(body, max_attempts=2), attempts=2)

    assert job_run(job_id=job.pk) is not None
    assert job_run(job_id=job.pk) is None  # a redelivery of a failed job does nothing

    job = reload(job)
    assert calls == []
    assert job.status == JobStatus.FAILED and job.attempts == 2
    assert job.error == "gave up after 2 attempts; see the log for each"
    assert kinds.failed == [(job.pk, "gave up after 2 attempts; see the log for each")]


def test_a_lost_worker_on_the_last_attempt_is_named_in_the_log_of_the_failed_job(kinds) -> None:
    owner = f"{socket.gethostname()}:{dead_pid()}:feedbeef"
    job = queued_job(
        kinds.add(succeed, max_attempts=1),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner=owner,
        lease_expires_at=timezone.now() - timedelta(seconds=5),
    )

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.FAILED and "gave up after 1 attempts" in job.error
    assert f"the worker holding this job ({owner}) was lost" in job.log


def test_a_non_retryable_error_fails_the_job_at_once_and_runs_its_hook_once(kinds, sends) -> None:
    job = queued_job(kinds.add(raising(ValueError("the numbers do not add up"))))

    job_run(job_id=job.pk)
    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert job.error == "ValueError: the numbers do not add up" and job.result == {}
    assert job.lease_owner == "" and job.finished_at is not None
    assert "failed: ValueError: the numbers do not add up" in job.log
    assert kinds.failed == [(job.pk, "ValueError: the numbers do not add up")]
    assert sends == []


def test_a_validation_error_fails_the_job_with_its_messages_as_the_reason(kinds) -> None:
    problems = ["The prefix names no bucket.", "Metadata 'stain' must be one of DAPI, GFP."]
    job = queued_job(kinds.add(raising(ValidationError(problems))))

    job_run(job_id=job.pk)

    job = reload(job)
    reason = "The prefix names no bucket. Metadata 'stain' must be one of DAPI, GFP."
    assert job.status == JobStatus.FAILED and job.error == reason
    assert kinds.failed == [(job.pk, reason)]


def test_a_refusal_fails_the_job_with_its_own_message_as_the_reason(kinds) -> None:
    refusal = ActionRefused("'Run 1' is deleted: only ready datasets count.")
    job = queued_job(kinds.add(raising(refusal)))

    job_run(job_id=job.pk)

    assert reload(job).error == "'Run 1' is deleted: only ready datasets count."


def test_a_failure_hook_that_raises_is_logged_and_the_job_still_ends_failed(kinds) -> None:
    def on_fail(job: Job, reason: str) -> None:
        raise RuntimeError("the archive bucket is unreachable")

    job = queued_job(kinds.add(raising(KeyError("size")), on_fail=on_fail))

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.FAILED and job.error == "KeyError: 'size'"
    assert job.lease_owner == "" and job.lease_expires_at is None
    assert "clean-up after the failure failed: the archive bucket is unreachable" in job.log


def test_job_fail_of_a_finished_job_changes_nothing_and_runs_no_hook(kinds) -> None:
    job = queued_job(kinds.add(succeed))
    job_run(job_id=job.pk)

    job_fail(reload(job), reason="too late")

    job = reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.error == ""
    assert kinds.failed == []


# --- cancel ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "requester"])
def test_staff_or_the_requester_cancel_a_queued_job_and_its_hook_runs(kinds, users, who) -> None:
    calls: list[int] = []
    kind = kinds.add(lambda ctx: calls.append(1))
    job = job_request(kind=kind, requested_by=users["member"])
    user = users["admin"] if who == "admin" else users["member"]

    cancelled = job_cancel(job=job, user=user)
    assert job_run(job_id=job.pk) is None

    assert cancelled.status == JobStatus.CANCELLED == reload(job).status
    assert cancelled.error == "cancelled on request" and cancelled.finished_at is not None
    assert f"cancel requested by {user.get_username()}" in cancelled.log
    assert kinds.failed == [(job.pk, "cancelled on request")]
    assert calls == []


@pytest.mark.parametrize("role", ["viewer", "curator", "other member"])
def test_anyone_else_is_refused_the_cancel_and_the_job_stays_queued(
    kinds, users, django_user_model, role
) -> None:
    job = job_request(kind=kinds.add(succeed), requested_by=users["member"])
    if role == "other member":
        user = django_user_model.objects.create_user(username="bob@lab.example")
    else:
        user = users[role]

    with pytest.raises(PermissionRefused, match="Only staff and the person who asked"):
        job_cancel(job=job, user=user)

    job = reload(job)
    assert job.status == JobStatus.QUEUED and not job.cancel_requested
    assert "cancel requested" not in job.log and kinds.failed == []


def test_cancel_of_a_finished_job_is_refused(kinds, users) -> None:
    job = queued_job(kinds.add(succeed))
    job_run(job_id=job.pk)

    with pytest.raises(ActionRefused, match=r"already ended \(succeeded\)"):
        job_cancel(job=reload(job), user=users["admin"])

    assert reload(job).status == JobStatus.SUCCEEDED and kinds.failed == []


def test_cancel_of_a_job_that_ended_since_it_was_read_is_refused(kinds, users) -> None:
    job = queued_job(kinds.add(succeed))
    read_by_the_page = reload(job)
    job_run(job_id=job.pk)

    with pytest.raises(ActionRefused, match="already ended"):
        job_cancel(job=read_by_the_page, user=users["admin"])

    job = reload(job)
    assert not job.cancel_requested and "cancel requested" not in job.log


def test_a_queued_job_marked_cancelled_is_ended_by_the_claim_without_running(kinds) -> None:
    calls: list[int] = []
    job = queued_job(kinds.add(lambda ctx: calls.append(1)), cancel_requested=True)

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.CANCELLED and job.attempts == 0 and calls == []
    assert kinds.failed == [(job.pk, "cancelled on request")]


def test_a_running_job_sees_the_cancel_at_its_next_check_and_ends_cancelled(kinds, users) -> None:
    reached: list[str] = []

    def body(ctx: JobContext) -> None:
        job_cancel(job=Job.objects.get(pk=ctx.job.pk), user=users["admin"])
        ctx.check()  # the heartbeat has not looked yet: the body goes on
        reached.append("before the heartbeat")
        ctx._lease.renew()  # what the heartbeat thread does every quarter lease
        ctx.check()
        reached.append("after the cancel was seen")

    job = queued_job(kinds.add(body))

    job_run(job_id=job.pk)

    job = reload(job)
    assert reached == ["before the heartbeat"]
    assert job.status == JobStatus.CANCELLED and job.error == "cancelled on request"
    assert job.attempts == 1 and job.lease_owner == ""
    assert kinds.failed == [(job.pk, "cancelled on request")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_renews_the_lease_and_brings_the_cancel_to_the_body(kinds, settings) -> None:
    settings.JOBS_LEASE_SECONDS = 1  # renewed every quarter second
    seen: dict[str, Any] = {}

    def lease_of(ctx: JobContext) -> Any:
        return Job.objects.get(pk=ctx.job.pk).lease_expires_at

    def body(ctx: JobContext) -> None:
        seen["claimed until"] = first = lease_of(ctx)
        deadline = time.monotonic() + 10
        while lease_of(ctx) == first and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["renewed until"] = lease_of(ctx)
        Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
        while time.monotonic() < deadline:
            ctx.check()
            time.sleep(0.05)
        seen["never stopped"] = True

    job = queued_job(kinds.add(body))

    job_run(job_id=job.pk)

    job = reload(job)
    assert seen["renewed until"] > seen["claimed until"] and "never stopped" not in seen
    assert job.status == JobStatus.CANCELLED and kinds.failed == [(job.pk, "cancelled on request")]


# --- lease lost, time limit -------------------------------------------------------------


def test_a_worker_whose_lease_another_took_stops_without_ending_the_job(kinds) -> None:
    def body(ctx: JobContext) -> None:
        Job.objects.filter(pk=ctx.job.pk).update(lease_owner="elsewhere:1:other")
        ctx._lease.renew()
        ctx.check()

    job = queued_job(kinds.add(body))

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.RUNNING and job.lease_owner == "elsewhere:1:other"
    assert job.finished_at is None and kinds.failed == []


def test_progress_and_hold_refuse_a_worker_that_no_longer_holds_the_job(kinds) -> None:
    refused: list[str] = []

    def body(ctx: JobContext) -> None:
        Job.objects.filter(pk=ctx.job.pk).update(lease_owner="elsewhere:1:other")
        try:
            ctx.progress(1, 2, force=True)
        except LeaseLost:
            refused.append("progress")
        try:
            with ctx.hold():
                refused.append("held")
        except LeaseLost:
            refused.append("hold")

    job = queued_job(kinds.add(body))

    job_run(job_id=job.pk)

    assert refused == ["progress", "hold"]
    assert reload(job).progress_done == 0


def test_a_body_past_its_time_limit_fails_at_its_next_check(kinds) -> None:
    def body(ctx: JobContext) -> None:
        time.sleep(1.1)
        ctx.check()

    job = queued_job(kinds.add(body, time_limit=1))

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.FAILED and job.error == "ran past its time limit of 1 s"
    assert kinds.failed == [(job.pk, "ran past its time limit of 1 s")]


def test_celery_s_soft_time_limit_fails_the_job_with_the_time_limit_reason(kinds, sends) -> None:
    job = queued_job(kinds.add(raising(SoftTimeLimitExceeded()), time_limit=30))

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.FAILED and job.error == "ran past its time limit of 30 s"
    assert sends == [] and len(kinds.failed) == 1


# --- claim: live and lost workers ---------------------------------------------------------


def test_a_job_held_by_a_live_worker_is_not_claimed(kinds) -> None:
    calls: list[int] = []
    owner = f"{socket.gethostname()}:{os.getppid()}:cafe0001"
    expires = timezone.now() + timedelta(seconds=60)
    job = queued_job(
        kinds.add(lambda ctx: calls.append(1)),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner=owner,
        lease_expires_at=expires,
    )

    assert job_run(job_id=job.pk) is None

    job = reload(job)
    assert calls == [] and job.attempts == 1 and job.status == JobStatus.RUNNING
    assert job.lease_owner == owner and job.lease_expires_at == expires


def test_a_job_held_on_another_machine_is_not_claimed_before_its_lease_lapses(kinds) -> None:
    job = queued_job(
        kinds.add(succeed),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner="another-node:4242:cafe0002",
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )

    assert job_run(job_id=job.pk) is None
    assert reload(job).attempts == 1


def test_a_lease_held_by_a_dead_process_of_this_machine_is_taken_over(kinds) -> None:
    owner = f"{socket.gethostname()}:{dead_pid()}:dead0001"
    job = queued_job(
        kinds.add(succeed),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner=owner,
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )

    assert job_run(job_id=job.pk) is not None

    job = reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2
    assert f"the worker holding this job ({owner}) was lost" in job.log
    assert "attempt 2 of 5 started" in job.log


def test_a_lapsed_lease_of_another_machine_is_taken_over(kinds) -> None:
    job = queued_job(
        kinds.add(succeed),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner="another-node:4242:cafe0003",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    job_run(job_id=job.pk)

    job = reload(job)
    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2


def test_a_job_of_a_kind_this_worker_does_not_know_is_not_left_running(kinds) -> None:
    job = queued_job(kinds.add(succeed))
    Job.objects.filter(pk=job.pk).update(kind="added-in-a-newer-release")

    with contextlib.suppress(LookupError):
        job_run(job_id=job.pk)

    job = reload(job)
    assert job.status != JobStatus.RUNNING and job.lease_owner == ""
    assert job.attempts == 0


# --- the sweep --------------------------------------------------------------------------


def test_the_sweep_requeues_a_running_job_whose_lease_expired_and_sends_it(kinds, sends) -> None:
    job = queued_job(
        kinds.add(succeed),
        status=JobStatus.RUNNING,
        attempts=1,
        lease_owner="another-node:4242:cafe0004",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        sent_at=timezone.now() - timedelta(minutes=5),
    )
    held = queued_job(
        kinds.add(succeed),
        status=JobStatus.RUNNING,
        lease_owner="another-node:4242:cafe0005",
        lease_expires_at=timezone.now() + timedelta(seconds=60),
    )

    assert jobs_sweep() == {"requeued": 1, "sent": 0}

    job = reload(job)
    assert job.status == JobStatus.QUEUED and job.lease_owner == "" and job.attempts == 1
    assert "worker another-node:4242:cafe0004 lost (lease expired)" in job.log
    assert [s["job"] for s in sends] == [str(job.pk)] and job.sent_at is not None
    assert reload(held).status == JobStatus.RUNNING


def test_the_sweep_sends_a_job_never_sent_after_ten_seconds_but_not_a_younger_one(
    kinds, sends
) -> None:
    kind = kinds.add(succeed)
    old = queued_job(kind, created_at=timezone.now() - timedelta(seconds=11))
    young = queued_job(kind)

    assert jobs_sweep() == {"requeued": 0, "sent": 1}

    assert [s["job"] for s in sends] == [str(old.pk)]
    assert reload(old).sent_at is not None and reload(young).sent_at is None


def test_the_sweep_resends_a_job_sent_longer_ago_than_the_resend_interval(
    kinds, sends, settings
) -> None:
    settings.JOBS_RESEND_AFTER_SECONDS = 900
    kind = kinds.add(succeed)
    long_ago = timezone.now() - timedelta(seconds=901)
    lost_message = queued_job(kind, created_at=long_ago, sent_at=long_ago)
    recent = queued_job(kind, created_at=long_ago, sent_at=timezone.now() - timedelta(seconds=60))

    assert jobs_sweep()["sent"] == 1

    assert [s["job"] for s in sends] == [str(lost_message.pk)]
    assert reload(lost_message).sent_at > long_ago
    assert reload(recent).sent_at < timezone.now() - timedelta(seconds=59)


def test_the_sweep_leaves_a_job_waiting_out_its_retry_backoff(kinds, sends) -> None:
    job = queued_job(
        kinds.add(succeed),
        created_at=timezone.now() - timedelta(minutes=1),
        not_before=timezone.now() + timedelta(minutes=1),
    )

    assert jobs_sweep()["sent"] == 0
    assert sends == [] and reload(job).sent_at is None


def test_the_sweep_leaves_a_job_unsent_while_the_broker_is_down(kinds, monkeypatch) -> None:
    def broker_down(*args: Any, **options: Any) -> None:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(job_run_task, "apply_async", broker_down)
    job = queued_job(kinds.add(succeed), created_at=timezone.now() - timedelta(minutes=1))

    assert jobs_sweep_task.apply().get() == {"requeued": 0, "sent": 0}
    assert reload(job).sent_at is None and reload(job).status == JobStatus.QUEUED


# --- db_patient ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("blip", [OperationalError, InterfaceError])
def test_db_patient_waits_out_a_database_blip_then_writes(blip) -> None:
    calls: list[int] = []

    def write() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise blip("the database system is starting up")
        return Job.objects.count()

    assert db_patient(write, seconds=5) == 0
    assert len(calls) == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_db_patient_gives_up_once_its_patience_is_spent() -> None:
    calls: list[float] = []

    def write() -> None:
        calls.append(time.monotonic())
        raise OperationalError("connection refused")

    started = time.monotonic()
    with pytest.raises(OperationalError, match="connection refused"):
        db_patient(write, seconds=1)

    assert len(calls) == 2  # at once, then after half a second; a second wait would pass 1 s
    assert time.monotonic() - started < 1


def test_db_patient_does_not_retry_an_error_that_is_not_a_lost_connection() -> None:
    calls: list[int] = []

    def write() -> None:
        calls.append(1)
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        db_patient(write, seconds=5)
    assert calls == [1]


# --- unique keys --------------------------------------------------------------------------


def test_a_second_request_with_a_live_unique_key_is_refused_until_the_first_fails(
    kinds,
) -> None:
    kind = kinds.add(succeed)
    first = job_request(kind=kind, unique_key="promotion:abc:processed")

    with pytest.raises(IntegrityError), transaction.atomic():
        job_request(kind=kind, unique_key="promotion:abc:processed")
    job_fail(first, reason="checksum mismatch")
    second = job_request(kind=kind, unique_key="promotion:abc:processed")

    assert Job.objects.filter(unique_key="promotion:abc:processed").count() == 2
    assert second.status == JobStatus.QUEUED


def test_a_succeeded_job_keeps_its_unique_key_taken(kinds) -> None:
    kind = kinds.add(succeed)
    job = job_request(kind=kind, unique_key="promotion:abc:processed")
    job_run(job_id=job.pk)

    with pytest.raises(IntegrityError), transaction.atomic():
        job_request(kind=kind, unique_key="promotion:abc:processed")

    assert Job.objects.count() == 1


def test_job_request_of_an_unknown_kind_is_refused_and_stores_nothing() -> None:
    with pytest.raises(LookupError, match="no job kind 'no-such-kind'"):
        job_request(kind="no-such-kind")
    assert not Job.objects.exists()


# --- the staff pages ------------------------------------------------------------------------

PAGE_STATUS = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 403, "admin": 200}


@pytest.fixture
def page_job(kinds) -> Job:
    job = queued_job(kinds.add(raising(ValueError("bad row 7"))))
    job_run(job_id=job.pk)
    return reload(job)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", ["list", "detail"])
def test_jobs_pages_per_role(client_for, page_job, role: str, page: str) -> None:
    url = (
        reverse("jobs:job_list")
        if page == "list"
        else reverse("jobs:job_detail", args=[page_job.pk])
    )

    response = client_for(role).get(url)

    assert response.status_code == PAGE_STATUS[role]
    if role == "anonymous":
        assert response.url.startswith(reverse("account_login"))
    elif role == "admin":
        assert "ValueError: bad row 7" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_cancel_per_role(client_for, kinds, role: str) -> None:
    job = queued_job(kinds.add(succeed))

    response = client_for(role).post(reverse("jobs:job_cancel", args=[job.pk]))

    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith(reverse("account_login"))
    elif role == "admin":
        assert response.status_code == 302
        assert response.url == reverse("jobs:job_detail", args=[job.pk])
    else:
        assert response.status_code == 403
    expected = JobStatus.CANCELLED if role == "admin" else JobStatus.QUEUED
    assert reload(job).status == expected
    assert kinds.failed == ([(job.pk, "cancelled on request")] if role == "admin" else [])


def test_cancel_is_post_only(client_for, kinds) -> None:
    job = queued_job(kinds.add(succeed))

    response = client_for("admin").get(reverse("jobs:job_cancel", args=[job.pk]))

    assert response.status_code == 405 and reload(job).status == JobStatus.QUEUED


def test_cancel_of_a_finished_job_says_it_has_ended(client_for, page_job) -> None:
    response = client_for("admin").post(reverse("jobs:job_cancel", args=[page_job.pk]), follow=True)

    assert "This job has already ended (failed)." in response.content.decode()
    assert reload(page_job).status == JobStatus.FAILED


def test_the_list_filters_by_kind_and_by_status(client_for, kinds) -> None:
    one, other = kinds.add(succeed), kinds.add(succeed)
    done = queued_job(one)
    job_run(job_id=done.pk)
    waiting = queued_job(one)
    elsewhere = queued_job(other)
    client = client_for("admin")

    def listed(**query: str) -> set[Any]:
        response = client.get(reverse("jobs:job_list"), query)
        assert response.status_code == 200
        return {job.pk for job in response.context["jobs"]}

    assert listed(kind=one) == {done.pk, waiting.pk}
    assert listed(status="queued") == {waiting.pk, elsewhere.pk}
    assert listed(kind=one, status="succeeded") == {done.pk}
    assert listed(kind="no-such-kind", status="bogus") == {done.pk, waiting.pk, elsewhere.pk}


def test_the_detail_of_an_unknown_job_is_404(client_for) -> None:
    response = client_for("admin").get(reverse("jobs:job_detail", args=[uuid.uuid4()]))

    assert response.status_code == 404
