"""Backup tasks and the backup kind's failure hook, run through the job runner.

A backup that fails as a whole (given up, cancelled) says why on its own row;
one that failed object by object keeps its per-object list. The schedules:
beat starts the daily and weekly backups with no requester on the ``long``
queue, and runs the jobs sweep. Messages to the broker are captured
(``job_run_task.apply_async``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from backups.models import BackupJob, BackupKind
from backups.services import backup_on_fail, backup_request
from backups.tasks import backup_scheduled_task
from lakeweb.celery import app as celery_app
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.jobs.services import job_cancel
from lakeweb.jobs.tasks import job_run_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def sends(monkeypatch) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    def apply_async(args: list[str], **options: Any) -> None:
        sent.append({"job": args[0], **options})

    monkeypatch.setattr(job_run_task, "apply_async", apply_async)
    return sent


def reload(backup: BackupJob) -> BackupJob:
    return BackupJob.objects.select_related("job").get(pk=backup.pk)


def test_a_backup_given_up_after_its_attempts_records_the_reason_in_its_errors(
    curator, sends
) -> None:
    backup = backup_request(kind=BackupKind.MANUAL, user=curator)
    Job.objects.filter(pk=backup.job_id).update(attempts=3)

    job_run(job_id=backup.job_id)

    backup = reload(backup)
    reason = "gave up after 3 attempts; see the log for each"
    assert backup.job.status == JobStatus.FAILED and backup.job.error == reason
    assert backup.errors == [reason] and backup.error_count == 1
    assert backup.object_count == 0 and backup.prefix == ""


def test_a_cancelled_backup_records_the_cancel_in_its_errors(curator, sends) -> None:
    backup = backup_request(kind=BackupKind.MANUAL, user=curator)

    job_cancel(job=backup.job, user=curator)

    backup = reload(backup)
    assert backup.job.status == JobStatus.CANCELLED
    assert backup.errors == ["cancelled on request"] and backup.error_count == 1


def test_the_backup_hook_run_twice_records_the_reason_once(curator) -> None:
    backup = backup_request(kind=BackupKind.MANUAL, user=curator)

    backup_on_fail(backup.job, "the archive bucket is unreachable")
    backup_on_fail(backup.job, "the archive bucket is unreachable")

    backup = reload(backup)
    assert backup.errors == ["the archive bucket is unreachable"] and backup.error_count == 1


def test_the_backup_hook_keeps_a_per_object_error_list_as_it_is(curator) -> None:
    backup = backup_request(kind=BackupKind.MANUAL, user=curator)
    object_errors = ["objects/raw/datasets/x/a.txt: cannot read it"]
    BackupJob.objects.filter(pk=backup.pk).update(errors=object_errors, error_count=1)

    backup_on_fail(backup.job, "BackupIncomplete: 1 objects could not be copied")

    backup = reload(backup)
    assert backup.errors == object_errors and backup.error_count == 1


@pytest.mark.parametrize("kind", [BackupKind.DAILY, BackupKind.WEEKLY])
def test_the_scheduled_task_queues_a_backup_with_no_requester_on_the_long_queue(
    kind, sends, settings, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        job_id = backup_scheduled_task.apply(args=[kind]).get()

    job = Job.objects.get(pk=job_id)
    assert job.kind == "backup" and job.status == JobStatus.QUEUED
    assert job.requested_by is None and job.queue == "long" and job.max_attempts == 3
    assert BackupJob.objects.get(job=job).kind == kind
    assert job.sent_at is not None
    assert sends == [
        {
            "job": job_id,
            "queue": "long",
            "countdown": None,
            "soft_time_limit": settings.JOBS_LONGEST_SECONDS,
            "time_limit": settings.JOBS_LONGEST_SECONDS + settings.JOBS_HARD_LIMIT_GRACE,
        }
    ]


def test_the_daily_schedule_names_the_scheduled_task_celery_knows() -> None:
    daily = PeriodicTask.objects.get(name="lakeweb daily backup")

    assert daily.task == backup_scheduled_task.name
    assert daily.task in celery_app.tasks and json.loads(daily.kwargs) == {"kind": "daily"}


def test_the_beat_schedule_runs_the_jobs_sweep_every_sweep_interval(settings) -> None:
    entries = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "lakeweb.jobs.sweep"
    ]
    assert entries == [
        {"task": "lakeweb.jobs.sweep", "schedule": float(settings.JOBS_SWEEP_SECONDS)}
    ]
    assert "lakeweb.jobs.sweep" in celery_app.tasks


# The scheduler closes the database connection as beat does: not inside a test's transaction.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_beat_s_database_scheduler_installs_the_sweep(settings) -> None:
    DatabaseScheduler(app=celery_app)

    sweep = PeriodicTask.objects.get(task="lakeweb.jobs.sweep")
    assert sweep.enabled and sweep.interval is not None
    assert sweep.interval.every * {"seconds": 1, "minutes": 60}[sweep.interval.period] == (
        settings.JOBS_SWEEP_SECONDS
    )
