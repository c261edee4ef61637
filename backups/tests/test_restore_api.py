"""The restore API: curators and admins request a restore from a snapshot as a job, JSON in
and out; every refusal is a JSON 4xx that queues nothing."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from backups.models import BackupJob
from backups.tests.snapshots import name_of, snapshot
from catalog.models import Activity, Dataset, DatasetStatus
from catalog.services import dataset_delete
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import ROLES
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage.backupstore import backup_store

pytestmark = pytest.mark.django_db

START = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 202, "admin": 202}


@pytest.fixture
def deleted(users) -> tuple[BackupJob, Dataset]:
    """A snapshot holding a processed dataset deleted since."""
    processed = promote_dataset(upload_dataset(users["member"]), users["member"])
    backup = snapshot()
    dataset_delete(dataset=processed, user=users["curator"])
    return backup, processed


def restores() -> int:
    return Job.objects.filter(kind="restore").count()


@pytest.mark.parametrize("role", ROLES)
def test_a_restore_request_per_role(api_for, deleted, role: str) -> None:
    backup, processed = deleted
    body = {"snapshot": name_of(backup), "datasets": [str(processed.pk)]}

    response = api_for(role).post(reverse("api:restore_start"), body, format="json")

    assert response.status_code == START[role], response.content
    if response.status_code != 202:
        assert response.json()["detail"] and restores() == 0
        return
    job = Job.objects.get(kind="restore")
    answer = response.json()
    assert answer["id"] == str(job.pk) and answer["status"] == "queued"
    assert answer["snapshot"] == name_of(backup) and answer["datasets"] == [str(processed.pk)]
    assert answer["restored"] == [] and answer["requested_by"] == job.requested_by.username


def test_a_requested_restore_runs_and_its_job_says_what_came_back(api_for, deleted) -> None:
    backup, processed = deleted
    api = api_for("curator")
    started = api.post(
        reverse("api:restore_start"), {"snapshot": backup.prefix}, format="json"
    ).json()
    job_run(job_id=started["id"])

    followed = api.get(reverse("api:restore_detail", args=[started["id"]]))

    assert followed.status_code == 200
    assert followed.json()["status"] == JobStatus.SUCCEEDED
    assert followed.json()["restored"] == [str(processed.pk)]
    back = Dataset.objects.get(pk=processed.pk)
    assert back.status == DatasetStatus.READY
    assert back.provenance_events.filter(activity=Activity.RESTORE).count() == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "This field is required."),
        ({"snapshot": ""}, 400, "may not be blank"),
        ({"snapshot": "../../etc/passwd"}, 400, "is not a snapshot name"),
        ({"snapshot": "x" * 201}, 400, "no more than 200 characters"),
        ({"snapshot": "SNAP", "datasets": ["not-an-id"]}, 400, "Must be a valid UUID"),
        ({"snapshot": "SNAP", "datasets": "one"}, 400, "Expected a list"),
        ({"snapshot": "SNAP", "datasets": ["NEW"]}, 400, "holds no dataset"),
        ({"snapshot": "SNAP", "datasets": ["NEW"] * 1001}, 400, "no more than 1000"),
        ({"snapshot": "manual/none-such"}, 404, "There is no snapshot manual/none-such"),
        ({"snapshot": "SNAP", "datasets": ["RAW"]}, 409, "still exists"),
        ([1, 2], 400, "Expected a dictionary"),
    ],
)
def test_a_bad_restore_request_is_a_json_4xx_that_queues_nothing(
    api_for, deleted, body, status: int, message: str
) -> None:
    backup, _processed = deleted
    raw = Dataset.objects.get(layer="raw")
    swap = {"SNAP": name_of(backup), "NEW": str(uuid.uuid4()), "RAW": str(raw.pk)}
    if isinstance(body, dict):
        body = {
            key: (
                [swap.get(v, v) for v in value]
                if isinstance(value, list)
                else swap.get(value, value)
            )
            for key, value in body.items()
        }
    jobs, datasets = Job.objects.count(), Dataset.objects.count()

    response = api_for("curator").post(reverse("api:restore_start"), body, format="json")

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert message in response.content.decode()
    assert (Job.objects.count(), Dataset.objects.count()) == (jobs, datasets)


def test_an_incomplete_snapshot_is_refused_with_a_404_that_says_so(api_for, deleted) -> None:
    backup, _processed = deleted
    backup_store().delete(backup.prefix + "manifest.json")  # as if its writer died

    response = api_for("curator").post(
        reverse("api:restore_start"), {"snapshot": name_of(backup)}, format="json"
    )

    assert response.status_code == 404 and "incomplete" in response.json()["detail"]
    assert restores() == 0


def test_a_second_restore_of_the_same_snapshot_is_a_409(api_for, deleted) -> None:
    backup, _processed = deleted
    api = api_for("curator")
    assert (
        api.post(reverse("api:restore_start"), {"snapshot": backup.prefix}, format="json")
    ).status_code == 202

    again = api.post(reverse("api:restore_start"), {"snapshot": backup.prefix}, format="json")

    assert again.status_code == 409 and "already queued or running" in again.json()["detail"]
    assert restores() == 1


def test_a_body_that_is_not_json_is_a_415_and_queues_nothing(api_for, deleted) -> None:
    response = api_for("curator").post(
        reverse("api:restore_start"), "snapshot=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415 and response.json()["detail"]
    assert restores() == 0


@pytest.mark.parametrize("role", ROLES)
def test_following_a_restore_per_role_and_an_unknown_id_is_a_json_404(
    api_for, deleted, role: str
) -> None:
    backup, _processed = deleted
    from backups.services import restore_request

    job = restore_request(snapshot=backup.prefix, user=None)
    response = api_for(role).get(reverse("api:restore_detail", args=[job.pk]))
    assert response.status_code == {**START, "curator": 200, "admin": 200}[role]
    if role == "curator":
        missing = api_for(role).get(reverse("api:restore_detail", args=[uuid.uuid4()]))
        assert missing.status_code == 404 and missing.json() == {
            "detail": "No restore job with this id."
        }
