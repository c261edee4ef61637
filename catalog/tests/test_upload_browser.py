"""The upload page's script in a real Chromium (static/lakeweb/upload.js).

- A refused request (4xx) stops the upload and shows the server's message
  (or says the session ended); only the network and 5xx are tried again.
- Metadata and file-name problems come back in one round.
- The progress bar moves as bytes leave, not as chunks finish.
- A resumed upload shows the details it began with, read-only, and keeps them.
- Sizes read as the server's size_iec writes them.

``chromium_page`` (conftest.py) fails any of them on a CSP violation or an
uncaught error in the page.
"""

from __future__ import annotations

import json
import os
import time
import unicodedata
from pathlib import Path

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db.models import F
from django.urls import reverse

from catalog.models import DataFile, Dataset, DatasetStatus, UploadFile
from conftest import PASSWORD
from lakeweb.storage import layer_store, layers_ensure
from lakeweb.templatetags.sizes import size_iec

from .factories import microscopy_form

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
MIB = 1024 * 1024


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
def form():
    return microscopy_form()


def _folder(root: Path, files: dict[str, bytes | int]) -> Path:
    """A folder holding ``files`` (bytes, or a size for a sparse file of zeros)."""
    folder = root / "Run"
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, int):
            with path.open("wb") as out:
                out.truncate(data)
        else:
            path.write_bytes(data)
    return folder


def _open(page, live_server, form, folder: Path, *, sample: str = "HeLa") -> None:
    page.goto(live_server.url + reverse("catalog:upload", args=[form.pk]))
    page.fill("input[name=name]", "Run 9")
    page.set_input_files("input[name=files]", folder)
    page.fill("input[name=exp0-sample]", sample)


def _errors(page) -> list[str]:
    page.wait_for_selector("#upload-errors:not(.d-none)")
    return page.locator("#upload-errors li").all_inner_texts()


def _stored_files() -> int:
    return DataFile.objects.count() + len(list(layer_store("raw").list_keys("")))


@pytest.mark.parametrize(
    "answer, message",
    [
        # A real refusal by the server: the chunk is not the size it announced.
        ("server", "The chunk of 'Run/data.bin' at byte 0 must be 307201 bytes, not 307200."),
        # A proxy in front of it refusing the body, in HTML.
        ("proxy", "A chunk of 'Run/data.bin' was too large for the server (HTTP 413)."),
    ],
)
def test_a_refused_chunk_stops_the_upload_with_the_message(
    page, live_server, form, tmp_path, answer, message
) -> None:
    _open(page, live_server, form, _folder(tmp_path, {"data.bin": os.urandom(300 * 1024)}))
    calls = []

    def refuse(route) -> None:
        calls.append(route.request.url)
        if answer == "proxy":
            route.fulfill(
                status=413, body="<h1>Request Entity Too Large</h1>", content_type="text/html"
            )
            return
        UploadFile.objects.update(size=F("size") + 1)  # the server now expects another size
        route.continue_()

    page.route("**/files/**", refuse)
    page.click("#upload-submit")

    assert _errors(page) == [message]
    assert page.inner_text("#upload-errors-title") == "The upload stopped."
    time.sleep(3)  # the first retry would have gone after 0.8 s
    assert len(calls) == 1
    assert "retrying" not in page.inner_text("#progress-text")
    assert Dataset.objects.get().status == DatasetStatus.UPLOADING  # resumable or cancellable
    assert _stored_files() == 0


def test_a_session_ended_mid_upload_says_so_and_stops(page, live_server, form, tmp_path) -> None:
    _open(page, live_server, form, _folder(tmp_path, {"data.bin": os.urandom(300 * 1024)}))
    calls = []

    def log_out(route) -> None:
        calls.append(route.request.url)
        # The server forgets the login (from the cache too, where sessions may be read from).
        Session.objects.all().delete()
        cache.clear()
        route.continue_()

    page.route("**/files/**", log_out)
    page.click("#upload-submit")

    errors = _errors(page)
    assert len(errors) == 1 and errors[0].startswith("You are no longer logged in")
    time.sleep(2)
    assert len(calls) == 1
    assert _stored_files() == 0


def test_server_errors_and_a_lost_connection_are_tried_again(
    page, live_server, form, tmp_path
) -> None:
    data = os.urandom(300 * 1024)
    _open(page, live_server, form, _folder(tmp_path, {"data.bin": data}))
    summary = page.inner_text("#file-summary")
    calls = []

    def flaky(route) -> None:
        calls.append(route.request.url)
        if len(calls) == 1:
            route.fulfill(status=503, json={"errors": ["Restarting."]})
        elif len(calls) == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/files/**", flaky)
    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 1 files to raw.")

    assert len(calls) == 3
    dataset = Dataset.objects.get()
    assert dataset.status == DatasetStatus.READY and dataset.total_size == len(data)
    # The same size on both pages, in the same units.
    assert summary == f"1 files, {size_iec(len(data))}" == "1 files, 300.0\xa0KiB"
    assert page.locator("dd", has_text="300.0\xa0KiB").count() == 1


def test_metadata_and_name_problems_come_back_in_one_round(
    page, live_server, form, tmp_path
) -> None:
    nfc = unicodedata.normalize("NFC", "café.txt")
    nfd = unicodedata.normalize("NFD", "café.txt")
    folder = _folder(tmp_path, {nfc: b"1", nfd: b"2", "\u202eevil.txt": b"3", "fine.txt": b"4"})
    _open(page, live_server, form, folder, sample="")
    page.fill("input[name=exp0-magnification]", "5000")
    page.click("#upload-submit")

    errors = _errors(page)
    assert page.inner_text("#upload-errors-title") == "Nothing was stored."
    assert "Sample name: This field is required." in errors
    assert any("Magnification" in e for e in errors)
    assert any("café.txt" in unicodedata.normalize("NFC", e) for e in errors)  # both print the same
    assert any("evil.txt" in e for e in errors)
    assert not any("fine.txt" in e for e in errors)
    assert Dataset.objects.count() == 0 and UploadFile.objects.count() == 0
    assert _stored_files() == 0


def test_progress_moves_while_a_chunk_is_on_its_way(
    page, live_server, form, tmp_path, settings
) -> None:
    settings.UPLOAD_CHUNK_SIZE = 16 * MIB
    _open(page, live_server, form, _folder(tmp_path, {"big.bin": 17 * MIB}))
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 2 * MIB},
    )
    page.click("#upload-submit")

    # At 2 MiB/s the first 16 MiB chunk takes some eight seconds to arrive.
    page.wait_for_function(
        "() => !['', '0%'].includes(document.getElementById('progress-bar').textContent)",
        timeout=6000,
    )
    shown = page.inner_text("#progress-text")
    assert UploadFile.objects.get().received == 0, "no chunk has arrived yet"
    assert not shown.startswith("0\xa0B of"), shown
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    page.wait_for_selector("text=Uploaded 1 files to raw.")


def test_a_resumed_upload_shows_its_details_read_only_and_keeps_them(
    page, live_server, form, tmp_path
) -> None:
    folder = _folder(tmp_path, {"data.bin": os.urandom(300 * 1024), "notes.txt": b"n\n"})
    _open(page, live_server, form, folder, sample="HeLa <b>1</b>")
    page.fill("textarea[name=description]", "first line\nsecond line")
    page.select_option("select[name=exp0-stain]", "GFP")
    page.fill("input[name=experiments]", "2")
    page.dispatch_event("input[name=experiments]", "change")
    page.fill("input[name=exp1-sample]", "HEK")
    page.fill("input[name=exp1-magnification]", "40")

    page.route("**/files/**", lambda route: route.abort("connectionreset"))
    page.route("**/batch/**", lambda route: route.abort("connectionreset"))
    page.click("#upload-submit")
    page.wait_for_selector("text=Connection lost; retrying")
    page.unroute("**/files/**")
    page.unroute("**/batch/**")

    # Later, in a new page: the same folder is picked again.
    page.goto(live_server.url + reverse("catalog:upload", args=[form.pk]))
    page.set_input_files("input[name=files]", folder)
    page.wait_for_selector("#resume-offer:not(.d-none)")
    assert "cannot change now" in page.inner_text("#resume-offer")
    fields = {
        "input[name=name]": "Run 9",
        "textarea[name=description]": "first line\nsecond line",
        "input[name=experiments]": "2",
        "input[name=exp0-sample]": "HeLa <b>1</b>",
        "select[name=exp0-stain]": "GFP",
        "input[name=exp1-sample]": "HEK",
        "input[name=exp1-magnification]": "40",
    }
    for selector, value in fields.items():
        assert page.input_value(selector) == value, selector
        assert page.is_disabled(selector), selector
    assert not page.is_disabled("input[name=files]")

    page.click("#upload-submit")
    page.wait_for_selector("text=Uploaded 2 files to raw.")
    dataset = Dataset.objects.get()
    assert dataset.name == "Run 9"
    assert dataset.description.splitlines() == ["first line", "second line"]  # sent as CRLF
    assert [(e["sample"], e["stain"]) for e in dataset.metadata["experiments"]] == [
        ("HeLa <b>1</b>", "GFP"),
        ("HEK", ""),
    ]


def test_cancelling_a_resumable_upload_unlocks_the_form(page, live_server, form, tmp_path) -> None:
    folder = _folder(tmp_path, {"data.bin": os.urandom(300 * 1024)})
    _open(page, live_server, form, folder)
    page.route("**/files/**", lambda route: route.abort("connectionreset"))
    page.click("#upload-submit")
    page.wait_for_selector("text=Connection lost; retrying")
    page.unroute("**/files/**")
    page.goto(live_server.url + reverse("catalog:upload", args=[form.pk]))
    page.set_input_files("input[name=files]", folder)
    page.wait_for_selector("#resume-offer:not(.d-none)")
    assert page.is_disabled("input[name=name]")

    page.click("#upload-cancel")
    page.wait_for_selector("text=Upload cancelled; nothing was kept.")
    assert not page.is_disabled("input[name=name]")
    assert Dataset.objects.get().status == DatasetStatus.FAILED
    assert UploadFile.objects.count() == 0


@pytest.mark.parametrize(
    "sizes",
    [
        [1000, 280],  # 1,280 bytes: an exact half, rounded up on both sides
        [MIB - 1],  # 1023.999 KiB
        [63_000_000],  # the folder the page used to call "63.0 MB"
    ],
)
def test_the_page_shows_sizes_as_the_server_does(page, live_server, form, tmp_path, sizes) -> None:
    folder = _folder(tmp_path, {f"f{i}.bin": size for i, size in enumerate(sizes)})
    page.goto(live_server.url + reverse("catalog:upload", args=[form.pk]))
    page.set_input_files("input[name=files]", folder)
    expected = f"{len(sizes)} files, {size_iec(sum(sizes))}"
    assert page.inner_text("#file-summary") == expected
    assert json.loads(page.input_value("input[name=relative_paths]"))  # the folder was read
