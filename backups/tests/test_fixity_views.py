"""The fixity page and API: each role allowed or refused; bad input stores nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backups.fixity import FIXITY_KIND
from backups.fixity_status import fixity_request
from catalog.models import FixityFailure
from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import ROLES
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layer_store

pytestmark = pytest.mark.django_db

PATH = "run1/notes/readme.txt"
PAGE = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 200, "admin": 200}
API = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 200, "admin": 200}


@pytest.fixture
def failed(filesystem_lake, settings, users, member):
    """A raw dataset, its processed descendant, and a batch that found the raw file altered."""
    settings.FIXITY_INTERVAL_MINUTES = settings.FIXITY_CYCLE_DAYS * 24 * 60  # whole-lake batches
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    datafile = raw.files.get(path=PATH)
    target = filesystem_lake / "raw" / datafile.storage_key
    target.write_bytes(b"X" + target.read_bytes()[1:])
    job = fixity_request(kind=FIXITY_KIND, user=None)
    job_run(job_id=job.pk)
    return {"raw": raw, "processed": processed, "datafile": datafile}


@pytest.mark.parametrize("role", ROLES)
def test_fixity_page_per_role(client_for, failed, role: str) -> None:
    response = client_for(role).get(reverse("backups:fixity"))
    assert response.status_code == PAGE[role]
    if response.status_code == 200:
        page = response.content.decode()
        assert "Coverage" in page and "mismatch" in page and PATH in page
        assert failed["processed"].name in page  # the descendant is listed
        assert "verified, " in page  # the last run


@pytest.mark.parametrize("role", ROLES)
def test_run_now_per_role(client_for, users, role: str) -> None:
    response = client_for(role).post(reverse("backups:fixity_run"), {"kind": "reconcile"})
    allowed = PAGE[role] == 200
    assert response.status_code == (302 if allowed or role == "anonymous" else 403)
    assert Job.objects.filter(kind="reconcile").count() == (1 if allowed else 0)


def test_run_now_with_a_wrong_kind_stores_nothing(client_for, users) -> None:
    response = client_for("curator").post(
        reverse("backups:fixity_run"), {"kind": "rm -rf"}, follow=True
    )
    assert "Choose a fixity batch or a reconciliation." in response.content.decode()
    assert Job.objects.count() == 0


@pytest.mark.parametrize("role", ROLES)
def test_fixity_api_per_role(api_for, failed, role: str) -> None:
    response = api_for(role).get(reverse("api:fixity"))
    assert response.status_code == API[role]
    if response.status_code == 200:
        body = response.json()
        assert body["coverage"]["objects"] == 6
        [failure] = body["failures"]
        assert (failure["kind"], failure["path"]) == ("mismatch", PATH)
        assert failure["dataset"]["id"] == str(failed["raw"].pk)
        assert [d["id"] for d in failure["descendants"]] == [str(failed["processed"].pk)]
        assert body["runs"][0]["result"]["failures"] == 1
    else:
        assert "detail" in response.json()


@pytest.mark.parametrize("role", ROLES)
def test_fixity_api_run_per_role(api_for, users, role: str) -> None:
    response = api_for(role).post(reverse("api:fixity"), {"kind": "fixity"}, format="json")
    assert response.status_code == {200: 202}.get(API[role], API[role])
    assert Job.objects.filter(kind=FIXITY_KIND).count() == (1 if API[role] == 200 else 0)


@pytest.mark.parametrize(
    "body", [{}, {"kind": "everything"}, {"kind": ["fixity"]}, {"kind": "x" * 10_000}]
)
def test_fixity_api_bad_input_is_a_400_and_stores_nothing(api_for, users, body) -> None:
    before = Job.objects.count()
    response = api_for("curator").post(reverse("api:fixity"), body, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]
    assert Job.objects.count() == before


def test_dataset_page_shows_last_verification_and_failures(client_for, failed) -> None:
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[failed["raw"].pk]))
    text = page.content.decode()
    assert "Last verified" in text and "not every file verified yet" in text
    assert "Fixity failure (bytes differ from the recorded SHA-256)" in text and PATH in text
    clean = client_for("viewer").get(
        reverse("catalog:dataset_detail", args=[failed["processed"].pk])
    )
    assert "Fixity failure" not in clean.content.decode()
    assert "every file read back and matching its SHA-256 since" in clean.content.decode()


def test_a_fixed_object_leaves_the_page(client_for, failed, filesystem_lake) -> None:
    datafile = failed["datafile"]
    store = layer_store("raw")
    with store.open(datafile.storage_key) as stream:
        data = stream.read()
    (filesystem_lake / "raw" / datafile.storage_key).write_bytes(b"T" + data[1:])
    job = fixity_request(kind=FIXITY_KIND, user=None)
    job_run(job_id=job.pk)
    assert FixityFailure.objects.get().resolved_at is not None
    page = client_for("curator").get(reverse("backups:fixity")).content.decode()
    assert "No open failures." in page


def test_admin_lists_fixity_failures_read_only(client_for, failed) -> None:
    admin = client_for("admin")
    page = admin.get(reverse("admin:catalog_fixityfailure_changelist"))
    assert page.status_code == 200 and failed["datafile"].storage_key in page.content.decode()
    assert admin.get(reverse("admin:catalog_fixityfailure_add")).status_code == 403
