"""The "derived from" picker of the upload page in a real Chromium (static/lakeweb/derive.js).

The picker searches the JSON API as the user types, picks ready datasets
(never pasted ids), moves the layer off raw, and the upload is sealed in
processed with a derivation naming the picks. A resumed derived upload shows
its sources read-only. ``chromium_page`` (conftest.py) fails a test on any CSP
violation or uncaught error in the page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from catalog.models import Activity, Dataset, DatasetStatus, Layer, ProvenanceEvent
from conftest import PASSWORD
from lakeweb.storage import layers_ensure

from .factories import DatasetFactory, microscopy_form

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def page(chromium_page, live_server, member):
    layers_ensure()
    chromium_page.goto(live_server.url + reverse("account_login"))
    chromium_page.fill("input[name=login]", member.email)
    chromium_page.fill("input[name=password]", PASSWORD)
    chromium_page.click("button[type=submit]")
    chromium_page.wait_for_url(f"{live_server.url}/datasets/")
    return chromium_page


@pytest.fixture
def sources(member) -> list[Dataset]:
    return [
        DatasetFactory(owner=member, name="Confocal raw scan"),
        DatasetFactory(owner=member, name="Sequencer run 7"),
    ]


def _open(page, live_server, folder: Path) -> None:
    form = microscopy_form()
    page.goto(live_server.url + reverse("catalog:upload", args=[form.pk]))
    page.fill("input[name=name]", "Filtered scan")
    page.set_input_files("input[name=files]", folder)
    page.fill("input[name=exp0-sample]", "HeLa")


def _pick(page, text: str, name: str) -> None:
    page.fill("#derived-search", text)
    page.click(f"#derived-results .derived-result:has-text('{name}')")
    page.wait_for_selector(f"#derived-chosen li:has-text('{name}')")


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    folder = tmp_path / "Run"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_a_source_picked_by_search_makes_a_derived_upload(
    page, live_server, tmp_path, sources
) -> None:
    _open(page, live_server, _folder(tmp_path, {"table.csv": b"a,b\n1,2\n"}))
    assert page.is_hidden("input[name=derived_from]")  # ids are picked, not pasted
    assert page.input_value("select[name=layer]") == "raw"

    _pick(page, "confocal", "Confocal raw scan")

    assert page.input_value("select[name=layer]") == "processed"
    assert page.input_value("input[name=derived_from]") == str(sources[0].pk)
    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 1 files to processed.")
    dataset = Dataset.objects.get(name="Filtered scan")
    assert dataset.layer == Layer.PROCESSED and dataset.status == DatasetStatus.READY
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.DERIVATION
    assert list(event.used.all()) == [sources[0]]


def test_removing_the_last_source_goes_back_to_raw(page, live_server, tmp_path, sources) -> None:
    _open(page, live_server, _folder(tmp_path, {"table.csv": b"a\n"}))
    _pick(page, "sequencer", "Sequencer run 7")
    _pick(page, "confocal", "Confocal raw scan")
    assert page.input_value("input[name=derived_from]") == f"{sources[1].pk}, {sources[0].pk}"

    page.click("button[aria-label='Remove Sequencer run 7']")
    assert page.input_value("input[name=derived_from]") == str(sources[0].pk)
    page.click("button[aria-label='Remove Confocal raw scan']")
    assert page.input_value("input[name=derived_from]") == ""
    assert page.input_value("select[name=layer]") == "raw"


def test_a_search_matching_nothing_says_so(page, live_server, tmp_path, sources) -> None:
    _open(page, live_server, _folder(tmp_path, {"table.csv": b"a\n"}))
    page.fill("#derived-search", "zebrafish")
    page.wait_for_selector("#derived-results :text('No ready dataset matches.')")


def test_a_resumed_derived_upload_shows_its_sources_read_only(
    page, live_server, tmp_path, sources
) -> None:
    folder = _folder(tmp_path, {"data.bin": os.urandom(300 * 1024)})
    _open(page, live_server, folder)
    _pick(page, "confocal", "Confocal raw scan")
    page.route("**/files/**", lambda route: route.abort("connectionreset"))
    page.click("#upload-submit")
    page.wait_for_selector("text=Connection lost; retrying")
    page.unroute("**/files/**")

    # Later, in a new page: the same folder is picked again.
    form_url = page.url
    page.goto(form_url)
    page.set_input_files("input[name=files]", folder)
    page.wait_for_selector("#resume-offer:not(.d-none)")
    page.wait_for_selector("#derived-chosen li:has-text('Confocal raw scan')")
    assert page.is_disabled("#derived-search")
    assert page.locator("#derived-chosen button").count() == 0  # nothing to remove
    assert page.input_value("select[name=layer]") == "processed"

    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 1 files to processed.")
    event = ProvenanceEvent.objects.get(dataset__name="Filtered scan")
    assert list(event.used.all()) == [sources[0]]
