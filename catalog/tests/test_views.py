from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Dataset, DatasetStatus, Promotion
from conftest import ROLES, read_object
from lakeweb.storage import layer_store

from .factories import FILES, microscopy_form, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
UPLOAD = {"anonymous": 302, "viewer": 403, "member": 200, "curator": 200, "admin": 200}


@pytest.fixture
def dataset(member) -> Dataset:
    return upload_dataset(member)


@pytest.mark.parametrize("role", ROLES)
def test_catalog_list_permissions(client_for, dataset, role: str) -> None:
    response = client_for(role).get(reverse("catalog:dataset_list"))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert dataset.name in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_dataset_page_permissions(client_for, dataset, role: str) -> None:
    url = reverse("catalog:dataset_detail", args=[dataset.pk])
    response = client_for(role).get(url, {"dir": "run1/notes"})
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        page = response.content.decode()
        assert "Sample name" in page and "HeLa-1" in page  # prompt of the form version
        assert dataset.files.get(path="run1/notes/readme.txt").sha256 in page


@pytest.mark.parametrize("role", ROLES)
def test_download_permissions(client_for, dataset, role: str) -> None:
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    url = reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])
    response = client_for(role).get(url)
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert b"".join(response.streaming_content) == FILES["run1/notes/readme.txt"]
        assert 'filename="readme.txt"' in response["Content-Disposition"]


def test_download_on_s3_redirects_to_a_presigned_url(s3_lake, client_for, member) -> None:
    dataset = upload_dataset(member)
    datafile = dataset.files.get(path="run1/notes/readme.txt")
    response = client_for("viewer").get(
        reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])
    )
    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"]
    assert datafile.storage_key.split("/")[-1] in response["Location"]


def test_user_without_a_role_is_refused_with_a_reason(client, django_user_model, dataset) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client.force_login(nobody)
    response = client.get(reverse("catalog:dataset_list"))
    assert response.status_code == 403
    assert "ask an admin" in response.content.decode()


def test_public_browsing_lets_anonymous_read_but_not_upload(client, settings, dataset) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    assert client.get(reverse("catalog:dataset_detail", args=[dataset.pk])).status_code == 200
    assert client.get(reverse("catalog:upload_choose")).status_code == 302


def test_deleted_and_unfinished_datasets_are_not_browsable(client_for, member) -> None:
    dataset = upload_dataset(member)
    Dataset.objects.filter(pk=dataset.pk).update(status=DatasetStatus.UPLOADING)
    client = client_for("viewer")
    assert client.get(reverse("catalog:dataset_detail", args=[dataset.pk])).status_code == 404
    assert dataset.name not in client.get(reverse("catalog:dataset_list")).content.decode()


def test_search_and_filters(client_for, member) -> None:
    upload_dataset(member, name="Zebrafish heart")
    upload_dataset(member, name="Mouse liver")
    client = client_for("viewer")
    page = client.get(reverse("catalog:dataset_list"), {"q": "zebrafish"}).content.decode()
    assert "Zebrafish heart" in page and "Mouse liver" not in page
    page = client.get(reverse("catalog:dataset_list"), {"layer": "processed"}).content.decode()
    assert "Zebrafish heart" not in page
    page = client.get(reverse("catalog:dataset_list"), {"source": "upload"}).content.decode()
    assert "Mouse liver" in page


@pytest.mark.parametrize("role", ROLES)
def test_upload_pages_permissions(client_for, role: str) -> None:
    form = microscopy_form()
    client = client_for(role)
    assert client.get(reverse("catalog:upload_choose")).status_code == UPLOAD[role]
    assert client.get(reverse("catalog:upload", args=[form.pk])).status_code == UPLOAD[role]


def _post_upload(client, form, tree: dict[str, bytes], **overrides):
    data = {
        "name": "Folder upload",
        "source": "upload",
        "tags": "imaging, pilot",
        "relative_paths": json.dumps(list(tree)),
        "exp0-sample": "HeLa-2",
        "exp0-magnification": "20",
        "exp0-stain": "GFP",
        "files": [SimpleUploadedFile(p.rsplit("/", 1)[-1], d) for p, d in tree.items()],
    }
    data.update(overrides)
    return client.post(reverse("catalog:upload", args=[form.pk]), data)


def test_upload_through_the_page_keeps_the_tree(client_for) -> None:
    form = microscopy_form()
    response = _post_upload(client_for("member"), form, FILES)

    dataset = Dataset.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("catalog:dataset_detail", args=[dataset.pk])
    assert sorted(dataset.files.values_list("path", flat=True)) == sorted(FILES)
    for datafile in dataset.files.all():
        assert datafile.sha256 == hashlib.sha256(FILES[datafile.path]).hexdigest()
        assert read_object("raw", datafile.storage_key) == FILES[datafile.path]
    assert sorted(dataset.tags.values_list("name", flat=True)) == ["imaging", "pilot"]
    assert dataset.metadata["experiments"][0]["stain"] == "GFP"


def test_viewer_cannot_post_an_upload(client_for) -> None:
    response = _post_upload(client_for("viewer"), microscopy_form(), FILES)
    assert response.status_code == 403
    assert not Dataset.objects.exists()


@pytest.mark.parametrize(
    "paths, message",
    [
        (["../../etc/passwd"], "paths must stay inside"),
        (["/abs/file.txt"], "is an absolute path"),
        (["x/a.txt", "x/a.txt"], "appears twice"),
    ],
)
def test_upload_page_refuses_bad_paths(client_for, paths: list[str], message: str) -> None:
    files = dict.fromkeys(paths, b"data")
    relative = json.dumps(paths)
    response = _post_upload(
        client_for("member"),
        microscopy_form(),
        files,
        relative_paths=relative,
        files=[SimpleUploadedFile("f", b"data") for _ in paths],
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was stored." in page and message in page
    assert not Dataset.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_upload_page_refuses_an_empty_upload(client_for) -> None:
    response = _post_upload(client_for("member"), microscopy_form(), {}, files=[])
    assert response.status_code == 400
    assert "the upload has no files" in response.content.decode()
    assert not Dataset.objects.exists()


def test_upload_page_refuses_invalid_metadata(client_for) -> None:
    response = _post_upload(
        client_for("member"),
        microscopy_form(),
        FILES,
        **{"exp0-sample": "", "exp0-magnification": "many", "exp0-stain": "Trypan"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This field is required." in page
    assert "Enter a whole number." in page
    assert "Select a valid choice." in page
    assert not Dataset.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_upload_escapes_html_in_names(client_for) -> None:
    _post_upload(client_for("member"), microscopy_form(), FILES, name="<script>alert(1)</script>")
    dataset = Dataset.objects.get()
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[dataset.pk]))
    assert b"<script>alert(1)</script>" not in page.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page.content


def test_upload_is_refused_without_csrf_token(member) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = _post_upload(client, microscopy_form(), FILES)
    assert response.status_code == 403
    assert not Dataset.objects.exists()


PROMOTE = {"anonymous": 302, "viewer": 403, "member": 302, "curator": 302, "admin": 302}


@pytest.mark.parametrize("role", ROLES)
def test_promote_permissions(client_for, dataset, role: str) -> None:
    url = reverse("catalog:dataset_promote", args=[dataset.pk])
    response = client_for(role).post(url, {"target_layer": "processed"})
    assert response.status_code == PROMOTE[role]
    queued = Promotion.objects.filter(source=dataset).exists()
    assert queued == (role in ("member", "curator", "admin"))


def test_promote_button_only_while_no_promotion_is_live(client_for, dataset, member) -> None:
    url = reverse("catalog:dataset_detail", args=[dataset.pk])
    client = client_for("member")
    assert "Promote to processed" in client.get(url).content.decode()
    promote_dataset(dataset, member)
    assert "Promote to processed" not in client.get(url).content.decode()


def test_promote_to_a_non_adjacent_layer_shows_why(client_for, dataset) -> None:
    url = reverse("catalog:dataset_promote", args=[dataset.pk])
    response = client_for("curator").post(url, {"target_layer": "curated"})
    assert response.status_code == 409
    assert "promotions go one layer at a time" in response.content.decode()
    assert not Promotion.objects.exists()


def test_promote_queues_the_job_after_commit(
    client_for, dataset, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    sent = []
    monkeypatch.setattr(
        "lakeweb.jobs.tasks.job_run_task.apply_async",
        lambda args, **options: sent.append((args, options["queue"])),
    )
    url = reverse("catalog:dataset_promote", args=[dataset.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client_for("member").post(url, {"target_layer": "processed"})
    promotion = Promotion.objects.get()
    assert sent == [([str(promotion.job_id)], "default")]
    promotion.job.refresh_from_db()
    assert promotion.job.sent_at is not None


DELETE = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 302, "admin": 302}


@pytest.mark.parametrize("role", ROLES)
def test_delete_permissions_on_processed(client_for, member, role: str) -> None:
    processed = promote_dataset(upload_dataset(member), member)

    response = client_for(role).post(reverse("catalog:dataset_delete", args=[processed.pk]))

    assert response.status_code == DELETE[role]
    processed.refresh_from_db()
    assert (processed.status == DatasetStatus.DELETED) == (
        DELETE[role] == 302 and role != "anonymous"
    )


def test_deleting_raw_is_refused_in_the_page(client_for, dataset) -> None:
    response = client_for("admin").post(reverse("catalog:dataset_delete", args=[dataset.pk]))
    assert response.status_code == 409
    assert "write-once and can never be deleted" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY
    assert all(read_object("raw", f.storage_key) == FILES[f.path] for f in dataset.files.all())


def test_get_on_actions_is_refused(client_for, dataset) -> None:
    client = client_for("curator")
    assert client.get(reverse("catalog:dataset_promote", args=[dataset.pk])).status_code == 405
    assert client.get(reverse("catalog:dataset_delete", args=[dataset.pk])).status_code == 405
