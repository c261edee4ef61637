"""Request restore in a real Chromium: the button, the progress, then the file reads.

The page keeps the strict Content-Security-Policy (the fixture fails on any
violation); the embedded store's cold folder thaws at once here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import ColdRestore
from catalog.services import cold_restores_watch
from lakeweb.jobs.runner import job_run
from lakeweb.storage import layers_ensure
from lakeweb.tests.test_browser import _login

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
README = "run1/notes/readme.txt"


def test_request_restore_then_download(
    chromium_page, live_server, settings, member, curator
) -> None:
    settings.ARCHIVE_STORAGE_CLASS = "GLACIER"
    settings.ARCHIVE_FS_THAW_SECONDS = 0
    layers_ensure()
    dataset = promote_dataset(upload_dataset(member), member)
    for _ in range(2):
        dataset = promote_dataset(dataset, curator)
    page, base = chromium_page, live_server.url
    _login(page, base, member)
    page.goto(base + reverse("catalog:dataset_detail", args=[dataset.pk]))
    assert "Cold storage: GLACIER" in page.inner_text("#cold-tier")

    page.click("#cold-tier button")
    page.wait_for_selector("#cold-tier progress")
    assert "0 of 3" in page.inner_text("#cold-tier")
    restore = ColdRestore.objects.get(dataset=dataset)
    job_run(job_id=restore.job_id)
    cold_restores_watch()

    page.reload()
    assert "Restored: every file can be read until" in page.inner_text("#cold-tier")
    datafile = dataset.files.get(path=README)
    url = base + reverse("catalog:datafile_download", args=[dataset.pk, datafile.pk])
    response = page.request.get(url)
    assert response.status == 200 and response.body() == FILES[README]
