"""Journeys of a person in a real Chromium driven by Playwright.

- First session: setup link -> first admin -> a metadata form in Django
  admin -> upload a folder (tree kept) -> dataset page -> queue a promotion
  -> queue a backup.
- An upload that survives reality: a large file, a network drop, a reload,
  and the upload resumes; the objects are checked over S3.
- Every kind of page with its scripts at work, under the strict
  Content-Security-Policy.

``chromium_page`` (conftest.py) fails any of them on a CSP violation or an
uncaught error in a page.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Dataset, DatasetStatus, Layer, MetadataFormVersion, Promotion, UploadFile
from catalog.tests.factories import DatasetFactory, microscopy_form, upload_dataset
from conftest import PASSWORD
from lakeweb.setup import setup_token_make
from lakeweb.storage import layer_store, layers_ensure

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(chromium_page) -> object:
    layers_ensure()
    return chromium_page


def _folder(root: Path) -> Path:
    folder = root / "Confocal run"
    (folder / "z stack").mkdir(parents=True)
    (folder / "z stack" / "slice 01.tif").write_bytes(os.urandom(20_000))
    (folder / "données.csv").write_text("t,value\n0,1.5\n")
    (folder / "empty.txt").write_bytes(b"")
    return folder


def test_first_session(page, live_server, tmp_path: Path) -> None:
    base = live_server.url

    page.goto(base + reverse("setup", args=[setup_token_make()]))
    page.fill("input[name=email]", "pi@lab.example")
    page.fill("input[name=password]", "a long lab passphrase")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.goto(base + reverse("admin:catalog_metadataform_add"))
    page.fill("input[name=name]", "Confocal imaging")
    page.fill("input[name=fields-0-name]", "sample")
    page.fill("input[name=fields-0-prompt]", "Sample name")
    page.check("input[name=fields-0-required]")
    page.click("input[name=_save]")
    page.wait_for_selector("text=Datasets from now on use version 1")
    assert MetadataFormVersion.objects.get().fields[0]["prompt"] == "Sample name"

    page.goto(base + reverse("catalog:upload_choose"))
    page.click("text=Confocal imaging")
    page.fill("input[name=name]", "Confocal run 7")
    page.set_input_files("input[name=files]", _folder(tmp_path))
    page.fill("input[name=exp0-sample]", "HeLa <b>bold</b>")
    batches: list[int] = []  # the two small files go in one batch, not one by one
    page.on("response", lambda r: "/batch/" in r.url and batches.append(r.status))
    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 3 files to raw.")
    assert batches == [200]

    dataset = Dataset.objects.get()
    assert sorted(dataset.files.values_list("path", flat=True)) == [
        "Confocal run/données.csv",
        "Confocal run/empty.txt",
        "Confocal run/z stack/slice 01.tif",
    ]
    assert page.locator("text=HeLa <b>bold</b>").count() == 1  # shown as text, not markup
    dataset_url = page.url.split("?")[0]
    page.goto(dataset_url + "?" + urlencode({"dir": "Confocal run/z stack"}))
    assert page.locator(".tree-name", has_text="slice 01.tif").count() == 1
    page.goto(dataset_url)

    page.click("text=Promote to processed")
    page.wait_for_selector("text=Promotion to processed: Queued")
    assert Promotion.objects.get().source == dataset

    page.goto(base + reverse("backups:backup_list"))
    page.click("text=Back up now")
    page.wait_for_selector("text=Backup: Queued")


def _big_folder(root: Path) -> dict[str, bytes]:
    tree = {
        "Plate 3/well A1/images/ø 0001.tif": os.urandom(52 * 1024 * 1024),
        "Plate 3/well A1/notes \u2013 été.txt": "Zellen gezählt\n".encode(),
        "Plate 3/empty marker": b"",
        "Plate 3/日本語/readme.md": "# 説明\n".encode(),
    }
    for path, data in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return tree


def _login(page, base: str, user) -> None:
    page.goto(base + reverse("account_login"))
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/datasets/")


def test_interrupted_upload_resumes_and_lands_on_s3(page, live_server, s3_lake, member, tmp_path):
    """A 52 MB file among others; the network drops, the page is reloaded, the upload resumes."""
    base = live_server.url
    tree = _big_folder(tmp_path)
    form = microscopy_form()
    _login(page, base, member)
    page.goto(base + reverse("catalog:upload", args=[form.pk]))
    page.fill("input[name=name]", "Plate 3")
    page.set_input_files("input[name=files]", tmp_path / "Plate 3")
    page.fill("input[name=exp0-sample]", "HEK293")

    # The network drops after a few chunks: every chunk request fails.
    sent = {"count": 0}

    def flaky(route):
        sent["count"] += 1
        if sent["count"] > 4:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/files/**", flaky)
    page.click("#upload-submit")
    page.wait_for_selector("text=Connection lost; retrying")
    stored = sum(UploadFile.objects.values_list("received", flat=True))
    assert 0 < stored < sum(len(d) for d in tree.values())

    # The user gives up on this tab and comes back later: reload, pick the folder again.
    page.unroute("**/files/**")
    page.reload()
    page.set_input_files("input[name=files]", tmp_path / "Plate 3")
    page.wait_for_selector("#resume-offer:not(.d-none)")
    assert "stopped at" in page.inner_text("#resume-offer")
    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 4 files to raw.", timeout=60_000)

    dataset = Dataset.objects.get()
    assert dataset.status == "ready" and dataset.file_count == 4
    store = layer_store("raw")
    for datafile in dataset.files.all():
        data = tree[datafile.path]
        body = store.client.get_object(Bucket=store.bucket, Key=datafile.storage_key)["Body"].read()
        assert body == data, datafile.path
        assert datafile.sha256 == hashlib.sha256(data).hexdigest()
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert store.part_uploads_stale(before=tomorrow) == []  # no multipart upload left behind


def test_each_kind_of_page_keeps_to_the_content_security_policy(page, live_server, users) -> None:
    """Pages of every kind, their scripts at work: not one violation (see chromium_page)."""
    base = live_server.url
    admin = users["admin"]
    raw = upload_dataset(
        admin, files={"run1/notes/readme.txt": b"hello\n", "run1/a.csv": b"t\n0\n"}
    )
    processed = DatasetFactory(owner=admin, name="Processed run", layer=Layer.PROCESSED)
    datafile = raw.files.get(path="run1/a.csv")
    _login(page, base, admin)

    for url in [
        reverse("catalog:dashboard"),
        reverse("catalog:layers"),
        reverse("catalog:datafile_preview", args=[raw.pk, datafile.pk]),
        reverse("provenance:dataset_lineage", args=[raw.pk]),
        reverse("catalog:upload_choose"),
        reverse("backups:backup_list"),
        reverse("api_token"),
        reverse("api:docs"),
        reverse("api:dataset_list"),  # the browsable API
        reverse("admin:index"),
        reverse("admin:catalog_dataset_changelist"),
        "/no-such-page/",
    ]:
        page.goto(base + url)

    # The file tree opens a folder in place (tree.js puts the fetched fragment in).
    page.goto(base + reverse("catalog:dataset_detail", args=[raw.pk]))
    page.click("a.tree-open:has-text('run1/')")
    page.wait_for_selector(".tree-children .tree-name:has-text('notes/')")

    # More experiments add copies of the metadata fieldset (upload.js).
    page.goto(base + reverse("catalog:upload", args=[raw.form_version.form.pk]))
    page.fill("input[name=experiments]", "2")
    page.dispatch_event("input[name=experiments]", "change")
    page.wait_for_selector("fieldset.experiment[data-index='1']")

    # Delete asks first (lakeweb.js, where an onsubmit= used to be): no, then yes.
    asked = []
    page.goto(base + reverse("catalog:dataset_detail", args=[processed.pk]))
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.dismiss())
    page.click("button:has-text('Delete')")
    page.once("dialog", lambda dialog: asked.append(dialog.message) or dialog.accept())
    page.click("button:has-text('Delete')")
    page.wait_for_selector("text=Dataset deleted.")
    assert asked == ["Delete this dataset and its files?"] * 2
    processed.refresh_from_db()
    assert processed.status == DatasetStatus.DELETED
