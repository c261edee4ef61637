"""The upload page tells every problem in one answer, and a resumed upload says what it began with.

(Its script's behaviour, in a real Chromium, is in catalog/tests/test_upload_browser.py.)
"""

from __future__ import annotations

import html
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import Dataset, UploadFile
from lakeweb.storage import layer_store

from .factories import microscopy_form

pytestmark = pytest.mark.django_db

BAD_NAMES = ["../up.txt", "/abs.txt", "nul\x00.txt", "ok.txt", "ok.txt"]
NAME_PROBLEMS = [
    "File name '../up.txt' has an empty, '.' or '..' part",
    "File name '/abs.txt' is an absolute path",
    "File name 'nul\\x00.txt' contains control characters",
    "File path 'ok.txt' appears twice",
]
BAD_METADATA = {"exp0-sample": "", "exp0-magnification": "many"}
METADATA_PROBLEMS = ["Sample name: This field is required.", "Enter a whole number."]


def _nothing_stored() -> None:
    assert not Dataset.objects.exists() and not UploadFile.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []


def test_protocol_start_lists_metadata_and_name_problems_in_one_refusal(client_for) -> None:
    form = microscopy_form()
    response = client_for("member").post(
        reverse("catalog:upload_start", args=[form.pk]),
        {
            "name": "Scan",
            "source": "upload",
            "manifest": json.dumps([{"path": p, "size": 1} for p in BAD_NAMES]),
            **BAD_METADATA,
        },
    )
    assert response.status_code == 400
    errors = " ".join(response.json()["errors"])
    for problem in METADATA_PROBLEMS + NAME_PROBLEMS:
        assert problem in errors
    _nothing_stored()


def test_protocol_start_with_good_names_lists_only_the_metadata_problems(client_for) -> None:
    form = microscopy_form()
    response = client_for("member").post(
        reverse("catalog:upload_start", args=[form.pk]),
        {
            "name": "Scan",
            "source": "upload",
            "manifest": json.dumps([{"path": "fine/a.txt", "size": 1}]),
            **BAD_METADATA,
        },
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        "Sample name: This field is required.",
        "Magnification: Enter a whole number.",
    ]
    _nothing_stored()


def test_page_without_javascript_lists_metadata_and_name_problems_at_once(client_for) -> None:
    form = microscopy_form()
    response = client_for("member").post(
        reverse("catalog:upload", args=[form.pk]),
        {
            "name": "Folder",
            "source": "upload",
            "relative_paths": json.dumps(BAD_NAMES),
            "files": [SimpleUploadedFile("f", b"data") for _ in BAD_NAMES],
            **BAD_METADATA,
        },
    )
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "Nothing was stored." in page
    for problem in ["This field is required.", "Enter a whole number.", *NAME_PROBLEMS]:
        assert problem in page
    _nothing_stored()


def test_upload_status_carries_what_the_upload_began_with(client_for) -> None:
    form = microscopy_form()
    client = client_for("member")
    started = client.post(
        reverse("catalog:upload_start", args=[form.pk]),
        {
            "name": "Scan <b>7</b>",
            "description": "two\nlines",
            "source": "upload",
            "external_id": "GSE2034",
            "tags": "pilot, imaging",
            "experiments": "2",
            "exp0-sample": "A",
            "exp0-stain": "GFP",
            "exp1-sample": "B",
            "exp1-magnification": "40",
            "manifest": json.dumps([{"path": "a.txt", "size": 3}]),
        },
    ).json()
    status = client.get(reverse("catalog:upload_session", args=[started["upload"]])).json()
    draft = status["draft"]
    assert (draft["name"], draft["description"], draft["source"], draft["external_id"]) == (
        "Scan <b>7</b>",
        "two\nlines",
        "upload",
        "GSE2034",
    )
    assert sorted(draft["tags"]) == ["imaging", "pilot"]
    assert [(e["sample"], e["magnification"], e["stain"]) for e in draft["experiments"]] == [
        ("A", None, "GFP"),
        ("B", 40, ""),
    ]
    assert [f["path"] for f in status["files"]] == ["a.txt"]
