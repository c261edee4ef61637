from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import BackupJob
from backups.services import backup_request
from conftest import ROLES

pytestmark = pytest.mark.django_db

ALLOWED = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 200, "admin": 200}


@pytest.mark.parametrize("role", ROLES)
def test_backup_list_permissions(client_for, role: str) -> None:
    backup = backup_request(kind="daily", user=None)
    BackupJob.objects.filter(pk=backup.pk).update(prefix="backups/daily/2026-11-20/")
    response = client_for(role).get(reverse("backups:backup_list"))
    assert response.status_code == ALLOWED[role]
    if response.status_code == 200:
        assert "backups/daily/2026-11-20/" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_backup_trigger_permissions(client_for, role: str) -> None:
    response = client_for(role).post(reverse("backups:backup_trigger"))
    allowed = ALLOWED[role] == 200
    assert response.status_code == (302 if allowed or role == "anonymous" else 403)
    assert BackupJob.objects.filter(kind="manual").exists() == allowed


def test_backup_page_shows_the_schedules(client_for) -> None:
    page = client_for("curator").get(reverse("backups:backup_list")).content.decode()
    assert "lakeweb daily backup" in page and "At 02:00 AM" in page
    assert "lakeweb weekly backup" in page and "At 03:00 AM, only on Sunday" in page


def test_trigger_needs_post(client_for) -> None:
    assert client_for("curator").get(reverse("backups:backup_trigger")).status_code == 405


def _snapshot_with_a_deleted_dataset(member, curator):
    from catalog.services import dataset_delete
    from catalog.tests.factories import promote_dataset, upload_dataset
    from lakeweb.jobs.runner import job_run

    processed = promote_dataset(upload_dataset(member), member)
    backup = backup_request(kind="manual", user=None)
    job_run(job_id=backup.job_id)
    backup.refresh_from_db()
    dataset_delete(dataset=processed, user=curator)
    return backup, processed


@pytest.mark.parametrize("role", ROLES)
def test_restore_permissions_and_the_restore_button(client_for, users, role: str) -> None:
    from lakeweb.jobs.models import Job

    backup, processed = _snapshot_with_a_deleted_dataset(users["member"], users["curator"])
    client = client_for(role)
    page = client.get(reverse("backups:backup_list")).content.decode()
    response = client.post(
        reverse("backups:backup_restore"),
        {"snapshot": backup.prefix, "dataset": str(processed.pk)},
    )

    allowed = ALLOWED[role] == 200
    assert response.status_code == (302 if allowed or role == "anonymous" else 403)
    assert Job.objects.filter(kind="restore").exists() == allowed
    assert (backup.prefix in page and ">Restore</button>" in page) == allowed
    if allowed:
        job = Job.objects.get(kind="restore")
        assert job.parameters["datasets"] == [str(processed.pk)]
        listing = client.get(reverse("backups:backup_list")).content.decode()
        assert "restore of" in listing and job.status in listing


@pytest.mark.parametrize(
    ("snapshot", "dataset", "message"),
    [
        ("../../etc/passwd", "", "is not a snapshot name"),
        ("manual/none-such", "", "There is no snapshot"),
        (None, "not-an-id", "is not a dataset id"),
        (None, "RAW", "still exists"),
    ],
)
def test_a_bad_restore_shows_why_and_queues_nothing(
    client_for, users, snapshot, dataset, message
) -> None:
    from catalog.models import Dataset
    from lakeweb.jobs.models import Job

    backup, _processed = _snapshot_with_a_deleted_dataset(users["member"], users["curator"])
    raw = Dataset.objects.get(layer="raw")
    jobs = Job.objects.count()
    response = client_for("curator").post(
        reverse("backups:backup_restore"),
        {
            "snapshot": snapshot or backup.prefix,
            "dataset": str(raw.pk) if dataset == "RAW" else dataset,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Job.objects.count() == jobs


@pytest.mark.parametrize("role", ROLES)
def test_drill_permissions_and_the_run_a_drill_button(client_for, role: str) -> None:
    from backups.models import Drill

    client = client_for(role)
    page = client.get(reverse("backups:backup_list")).content.decode()
    response = client.post(reverse("backups:backup_drill"))

    allowed = ALLOWED[role] == 200
    assert response.status_code == (302 if allowed or role == "anonymous" else 403)
    assert Drill.objects.exists() == allowed
    assert ("Run a drill now" in page) == allowed
    if allowed:
        listing = client.get(reverse("backups:backup_list")).content.decode()
        assert "Last drill:" in listing and "queued" in listing


def test_backup_page_shows_the_last_drill_and_its_failures(client_for, member) -> None:
    from backups.models import Drill, DrillResult
    from lakeweb.jobs.models import JobStatus
    from lakeweb.jobs.services import job_request

    Drill.objects.create(
        job=job_request(kind="drill", requested_by=None),
        snapshot="weekly/2026-W48",
        datasets=["a", "b"],
        file_count=7,
        byte_count=2048,
        seconds=1.5,
        result=DrillResult.FAILED,
        failures=[{"dataset": "b", "reason": "x/<b>y</b>.txt: the backup's bytes do not match"}],
    )
    from lakeweb.jobs.models import Job

    Job.objects.filter(kind="drill").update(status=JobStatus.FAILED)
    page = client_for("curator").get(reverse("backups:backup_list")).content.decode()

    assert "weekly/2026-W48" in page and "2 datasets, 7 files, 2.0\xa0KiB verified in 1.5 s" in page
    assert 'text-bg-danger">failed' in page
    assert "x/&lt;b&gt;y&lt;/b&gt;.txt: the backup&#x27;s bytes do not match" in page
    assert "lakeweb restore drill" in page and "only on Sunday" in page
