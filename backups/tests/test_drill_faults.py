"""A restore drill whose worker is SIGKILLed midway completes once on a returning worker.

PostgreSQL, Redis and real Celery worker processes; S3 on the moto server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backups.models import BackupKind, Drill, DrilledDataset, DrillResult
from backups.services import backup_request
from backups.services.drill import drill_request
from catalog.models import DataFile
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.services import jobs_sweep
from lakeweb.tests.stack import wait

from .test_faults import FILES, LEASE, _finished, _kill_midway, _many_files, stack  # noqa: F401

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_drill_whose_worker_is_sigkilled_midway_completes_once_and_leaves_no_scratch(
    stack,  # noqa: F811 - the fixture imported above
    member,
    tmp_path: Path,
) -> None:
    scratch = tmp_path / "scratch"  # the workers' machine's scratch folder
    dataset = _many_files(member)
    first = stack["start"]("first", DRILL_SCRATCH_DIR=str(scratch))
    backup = backup_request(kind=BackupKind.MANUAL, user=None)
    assert _finished(backup.job_id).status == JobStatus.SUCCEEDED
    drill = drill_request(user=None)
    _kill_midway(first, drill.job_id)
    assert any(p.is_file() for p in scratch.rglob("*"))  # the killed worker left a copy

    stack["start"]("second", DRILL_SCRATCH_DIR=str(scratch))
    wait(lambda: jobs_sweep()["requeued"] == 1, LEASE + 30, every=0.5)
    job = _finished(drill.job_id)

    assert job.status == JobStatus.SUCCEEDED and job.attempts == 2, job.log + job.error
    assert "lost (lease expired)" in job.log
    drill = Drill.objects.get()
    assert drill.result == DrillResult.PASSED and drill.failures == []
    assert drill.datasets == [str(dataset.pk)] == job.parameters["datasets"]
    assert drill.file_count == FILES
    assert drill.byte_count == sum(f.size for f in DataFile.objects.all())
    assert list(DrilledDataset.objects.values_list("dataset_id", flat=True)) == [dataset.pk]
    assert not [p for p in scratch.rglob("*") if p.is_file()]
