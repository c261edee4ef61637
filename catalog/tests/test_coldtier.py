"""The archive's cold tier: datasets stored cold, refused until restored, restored on request.

The whole flow runs on the filesystem store (the cold folder) and on S3 over
HTTP (moto, which keeps GLACIER objects unreadable until RestoreObject).
"""

from __future__ import annotations

import io
import time
import urllib.request
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from catalog.models import ColdRestore, ColdRestoreState, Dataset, Layer
from catalog.services import cold_restores_watch
from conftest import ROLES
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import job_run
from lakeweb.storage import StorageError, layer_store
from lakeweb.storage.cold import cold_path

from .factories import FILES, archive_dataset, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

README = "run1/notes/readme.txt"


@pytest.fixture
def cold(settings, lake, member, curator) -> Dataset:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_FS_THAW_SECONDS = 0
    dataset = archive_dataset(member, curator)
    assert dataset.layer == Layer.ARCHIVE and dataset.status == "ready"
    return dataset


def _urls(dataset: Dataset) -> dict[str, str]:
    datafile = dataset.files.get(path=README)
    return {
        "download": reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk]),
        "zip": reverse("catalog:dataset_zip", args=[dataset.pk]),
        "preview": reverse("catalog:datafile_preview", args=[dataset.pk, datafile.pk]),
        "inline": reverse("catalog:datafile_inline", args=[dataset.pk, datafile.pk]),
    }


def _restore(client, dataset: Dataset) -> ColdRestore:
    """Request the restore as the page does, run its job here, and one pass of the watch."""
    response = client.post(reverse("catalog:dataset_restore", args=[dataset.pk]))
    assert response.status_code == 302
    restore = ColdRestore.objects.get(dataset=dataset)
    job_run(job_id=restore.job_id)
    restore.refresh_from_db()
    return restore


def test_promotion_into_archive_stores_every_file_in_the_cold_class(cold, lake) -> None:
    assert cold.storage_class == "GLACIER"
    store = layer_store("archive")
    for datafile in cold.files.all():
        if lake == "s3":
            head = store.client.head_object(Bucket=store.bucket, Key=datafile.storage_key)
            assert head["StorageClass"] == "GLACIER"
        else:
            assert cold_path(store, datafile.storage_key).is_file()
            assert not (store.root / datafile.storage_key).exists()
        with pytest.raises(StorageError):  # the store itself will not read it
            store.open(datafile.storage_key).read()


def test_promotion_into_other_layers_stays_standard(settings, member) -> None:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    processed = promote_dataset(upload_dataset(member), member)
    assert processed.storage_class == ""


def test_cold_dataset_refuses_reads_and_offers_a_restore(cold, client_for) -> None:
    client = client_for("member")  # the owner
    for name, url in _urls(cold).items():
        response = client.get(url)
        assert response.status_code == 409, name
        assert "cold storage (GLACIER)" in response.content.decode(), name
    page = client.get(reverse("catalog:dataset_detail", args=[cold.pk])).content.decode()
    assert "Request restore" in page
    assert "Download all as zip" not in page


def test_restore_makes_every_file_readable_and_emails_the_requester(
    cold, lake, client_for, member
) -> None:
    client = client_for("member")
    restore = _restore(client, cold)
    assert restore.job.status == JobStatus.SUCCEEDED
    assert restore.state == ColdRestoreState.THAWING
    assert (restore.tier, restore.days) == ("Standard", 7)

    assert cold_restores_watch() == {"expired": 0, "ready": 1}
    restore.refresh_from_db()
    assert (restore.state, restore.files_ready, restore.files_total) == ("ready", 3, 3)
    assert restore.expires_at > timezone.now() + timedelta(days=6)
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "All 3 files" in mail.outbox[0].body and "until" in mail.outbox[0].body

    urls = _urls(cold)
    response = client.get(urls["download"])
    if lake == "s3":  # a presigned URL to the restored copy, fetched over HTTP
        assert response.status_code == 302
        with urllib.request.urlopen(response["Location"]) as got:  # noqa: S310 - loopback
            assert got.read() == FILES[README]
    else:
        assert b"".join(response.streaming_content) == FILES[README]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get(urls["zip"]).streaming_content)))
    assert archive.read(README) == FILES[README]
    assert client.get(urls["preview"]).status_code == 200
    page = client.get(reverse("catalog:dataset_detail", args=[cold.pk])).content.decode()
    assert "Restored: every file can be read until" in page


def test_the_restore_email_links_to_the_dataset_page_on_the_site_s_address(
    cold, client_for, settings
) -> None:
    settings.LAKEWEB_SITE_URL = "https://lake.lab.example/"
    _restore(client_for("member"), cold)
    cold_restores_watch()
    page = reverse("catalog:dataset_detail", args=[cold.pk])
    assert f"Dataset page: https://lake.lab.example{page}\n" in mail.outbox[0].body


def test_a_second_watch_pass_sends_no_second_email(cold, client_for) -> None:
    _restore(client_for("member"), cold)
    cold_restores_watch()
    cold_restores_watch()
    assert len(mail.outbox) == 1


def test_the_filesystem_thaw_takes_the_configured_delay(
    settings, filesystem_lake, member, curator, client_for
) -> None:
    settings.ARCHIVE_STORAGE_CLASS = "DEEP_ARCHIVE"
    settings.ARCHIVE_FS_THAW_SECONDS = 2
    dataset = archive_dataset(member, curator)
    client = client_for("curator")
    restore = _restore(client, dataset)
    cold_restores_watch()
    restore.refresh_from_db()
    assert (restore.state, restore.files_ready) == ("thawing", 0)
    page = client.get(reverse("catalog:dataset_detail", args=[dataset.pk])).content.decode()
    assert "<strong>0 of 3</strong> files readable" in page
    assert client.get(_urls(dataset)["download"]).status_code == 409
    time.sleep(2.1)
    cold_restores_watch()
    restore.refresh_from_db()
    assert (restore.state, restore.files_ready) == ("ready", 3)
    assert client.get(_urls(dataset)["download"]).status_code == 200


def test_an_expired_restore_makes_the_dataset_cold_again(cold, client_for) -> None:
    client = client_for("member")
    restore = _restore(client, cold)
    cold_restores_watch()
    restore.refresh_from_db()
    cold_restores_watch(now=restore.expires_at + timedelta(seconds=1))
    restore.refresh_from_db()
    assert restore.state == ColdRestoreState.EXPIRED
    response = client.get(_urls(cold)["download"])
    assert response.status_code == 409
    assert "Request restore" in response.content.decode()


# --- who may ask, and what is refused ------------------------------------------------


@pytest.fixture
def cold_row(member) -> Dataset:
    """A cold archive dataset as rows only (no job runs here, no file is read)."""
    dataset = upload_dataset(member)
    Dataset.objects.filter(pk=dataset.pk).update(layer=Layer.ARCHIVE, storage_class="GLACIER")
    dataset.refresh_from_db()
    return dataset


RESTORE = {"anonymous": 302, "viewer": 403, "member": 302, "curator": 302, "admin": 302}
READ = {"anonymous": 302, "viewer": 409, "member": 409, "curator": 409, "admin": 409}


@pytest.mark.parametrize("role", ROLES)
def test_restore_request_permissions(client_for, cold_row, role: str) -> None:
    response = client_for(role).post(reverse("catalog:dataset_restore", args=[cold_row.pk]))
    assert response.status_code == RESTORE[role]
    if role == "anonymous":
        assert "/accounts/login/" in response["Location"]
    asked = role in ("member", "curator", "admin")
    assert ColdRestore.objects.filter(dataset=cold_row).exists() == asked
    assert Job.objects.filter(kind="cold_restore").count() == int(asked)


def test_a_member_cannot_restore_someone_elses_dataset(client_for, curator) -> None:
    dataset = upload_dataset(curator)
    Dataset.objects.filter(pk=dataset.pk).update(layer=Layer.ARCHIVE, storage_class="GLACIER")
    response = client_for("member").post(reverse("catalog:dataset_restore", args=[dataset.pk]))
    assert response.status_code == 403
    assert "members for their own datasets" in response.content.decode()
    assert not ColdRestore.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_reads_of_a_cold_dataset_are_refused_for_every_role(client_for, cold_row, role) -> None:
    for name, url in _urls(cold_row).items():
        response = client_for(role).get(url)
        assert response.status_code == READ[role], name


@pytest.mark.parametrize("role", ROLES)
def test_request_restore_button_only_for_who_may_ask(client_for, cold_row, role) -> None:
    response = client_for(role).get(reverse("catalog:dataset_detail", args=[cold_row.pk]))
    if role == "anonymous":
        assert response.status_code == 302
        return
    page = response.content.decode()
    assert "Cold storage: GLACIER" in page
    assert ("Request restore" in page) == (role != "viewer")


def test_restore_of_a_dataset_not_in_cold_storage_is_refused(client_for, member) -> None:
    dataset = upload_dataset(member)
    jobs = Job.objects.count()
    response = client_for("curator").post(reverse("catalog:dataset_restore", args=[dataset.pk]))
    assert response.status_code == 409
    assert "not in cold storage" in response.content.decode()
    assert not ColdRestore.objects.exists()
    assert Job.objects.count() == jobs


def test_a_second_restore_while_one_is_live_is_refused(client_for, cold_row) -> None:
    client = client_for("curator")
    url = reverse("catalog:dataset_restore", args=[cold_row.pk])
    assert client.post(url).status_code == 302
    response = client.post(url)
    assert response.status_code == 409
    assert "already under way" in response.content.decode()
    assert ColdRestore.objects.count() == 1
    assert Job.objects.filter(kind="cold_restore").count() == 1


def test_restore_request_is_post_only(client_for, cold_row) -> None:
    response = client_for("curator").get(reverse("catalog:dataset_restore", args=[cold_row.pk]))
    assert response.status_code == 405
    assert not ColdRestore.objects.exists()


def test_a_class_that_needs_no_restore_only_names_the_lifecycle_rule(
    settings, member, curator
) -> None:
    settings.ARCHIVE_STORAGE_CLASS = "COLD-TIER-ON-MINIO"  # a MinIO tier name, say
    archived = archive_dataset(member, curator)
    assert archived.storage_class == ""
    assert layer_store("archive").open(archived.files.get(path=README).storage_key).read()


# --- faults ---------------------------------------------------------------------------


def _lose_a_cold_file(dataset: Dataset) -> None:
    store = layer_store("archive")
    cold_path(store, dataset.files.get(path=README).storage_key).unlink()


def test_a_broken_restore_does_not_hold_up_the_others(
    settings, filesystem_lake, member, curator, client_for
) -> None:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_FS_THAW_SECONDS = 0
    broken, sound = archive_dataset(member, curator), archive_dataset(member, curator)
    client = client_for("curator")
    first, second = _restore(client, broken), _restore(client, sound)
    _lose_a_cold_file(broken)
    assert cold_restores_watch() == {"expired": 0, "ready": 1}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (second.state, first.state) == ("ready", "thawing")
    assert first.checked_at is not None  # looked at, so the next pass starts with the others


def test_a_restore_job_that_cannot_ask_ends_failed_with_the_reason_and_can_be_asked_again(
    settings, filesystem_lake, member, curator, client_for
) -> None:
    from lakeweb.jobs.runner import job_fail

    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    dataset = archive_dataset(member, curator)
    _lose_a_cold_file(dataset)
    client = client_for("member")
    restore = _restore(client, dataset)  # the store fails: queued again, to retry
    job = Job.objects.get(pk=restore.job_id)
    assert job.status == JobStatus.QUEUED and README in job.log
    # What the runner does once the kind's attempts have run out.
    job_fail(job, reason=f"{README} is not in the cold folder of archive")
    job.refresh_from_db()
    restore.refresh_from_db()
    assert (job.status, restore.state) == (JobStatus.FAILED, ColdRestoreState.FAILED)
    assert README in job.error
    page = client.get(reverse("catalog:dataset_detail", args=[dataset.pk])).content.decode()
    assert "Request restore" in page
    assert client.post(reverse("catalog:dataset_restore", args=[dataset.pk])).status_code == 302
    assert ColdRestore.objects.filter(dataset=dataset).count() == 2
