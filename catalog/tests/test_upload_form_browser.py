"""The upload page without JavaScript, in a real Chromium: names arrive as the browser sent them."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from catalog.models import Dataset, DatasetStatus
from lakeweb.storage import layers_ensure
from lakeweb.tests.test_browser import _folder, _login

from .factories import microscopy_form

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_folder_posted_without_javascript_keeps_its_tree(
    chromium_page, live_server, member, tmp_path: Path
) -> None:
    # Chromium names each file of a picked folder by its path inside it;
    # Django's parser kept only the last part ('slice 01.tif').
    layers_ensure()
    base, form = live_server.url, microscopy_form()
    context = chromium_page.context.browser.new_context(java_script_enabled=False)
    page = context.new_page()
    _login(page, base, member)
    page.goto(base + reverse("catalog:upload", args=[form.pk]))
    page.fill("input[name=name]", "Without JavaScript")
    page.set_input_files("input[name=files]", _folder(tmp_path))
    page.fill("input[name=exp0-sample]", "HEK293")
    page.click("#upload-submit")
    page.wait_for_url(f"{base}/datasets/*/")
    context.close()

    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.READY
    assert sorted(dataset.files.values_list("path", flat=True)) == [
        "Confocal run/données.csv",
        "Confocal run/empty.txt",
        "Confocal run/z stack/slice 01.tif",
    ]
