"""The strict Content-Security-Policy holds on every kind of page (settings.py, django-csp).

Two halves: every kind of response carries the header, without
``'unsafe-inline'`` or ``'unsafe-eval'``; and no template (nor the markup a
page gets from Python: charts, result rows, crispy forms) holds code the policy
would block, so that a new inline script, style or handler fails here rather
than silently in a browser. The browser tests (``test_browser.py``) fail on
any violation Chromium reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from catalog.models import Dataset, MetadataForm
from catalog.tests.factories import microscopy_form, sealed_dataset, upload_dataset
from lakeweb.storage import layers_ensure

pytestmark = pytest.mark.django_db

TEMPLATES = Path(settings.BASE_DIR) / "templates"
WANTED = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
# What the policy blocks in markup: each pattern names what it found.
INLINE = {
    # A JSON data block (json_script, DRF's CSRF token) is not run: the policy lets it be.
    "inline <script>": re.compile(
        r"<script\b(?![^>]*\bsrc\s*=)(?![^>]*\btype\s*=\s*[\"']application/(ld\+)?json)[^>]*>", re.I
    ),
    "<style> element": re.compile(r"<style\b", re.I),
    "style= attribute": re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I),
    "on…= handler": re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),
    "javascript: URL": re.compile(r"javascript\s*:", re.I),
}
DJANGO_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
PNG = bytes.fromhex(  # a 1x1 picture, served inline by the preview
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def inline_code(markup: str) -> list[str]:
    """What in ``markup`` a policy without 'unsafe-inline' would block, as found."""
    return [
        f"{what}: {match.group(0)[:80]!r}"
        for what, pattern in INLINE.items()
        for match in pattern.finditer(markup)
    ]


def directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


# kind of page -> (role, path given the dataset and the form, expected status)
PAGES: dict[str, tuple[str, Callable[..., str], int]] = {
    "catalog list": ("viewer", lambda d, f: reverse("catalog:dataset_list"), 200),
    "dataset page": ("viewer", lambda d, f: reverse("catalog:dataset_detail", args=[d.pk]), 200),
    "dashboard": ("viewer", lambda d, f: reverse("catalog:dashboard"), 200),
    "provenance graph": (
        "viewer",
        lambda d, f: reverse("provenance:dataset_graph", args=[d.pk]),
        200,
    ),
    "upload page": ("member", lambda d, f: reverse("catalog:upload", args=[f.pk]), 200),
    "backups page": ("admin", lambda d, f: reverse("backups:backup_list"), 200),
    "admin index": ("admin", lambda d, f: reverse("admin:index"), 200),
    "login": ("anonymous", lambda d, f: reverse("account_login"), 200),
    "API docs": ("viewer", lambda d, f: reverse("api:docs"), 200),
    "browsable API": ("viewer", lambda d, f: reverse("api:dataset_detail", args=[d.pk]), 200),
    "404 page": ("viewer", lambda d, f: "/no-such-page/", 404),
    "403 page": ("viewer", lambda d, f: reverse("catalog:upload_choose"), 403),
    "health": ("anonymous", lambda d, f: reverse("health"), 200),
}


@pytest.fixture
def page_objects(member) -> tuple[Dataset, MetadataForm]:
    layers_ensure()  # else /health/ answers 503: still with the policy, but not the page
    form = microscopy_form()
    return sealed_dataset(member, name="HeLa time-lapse", form=form), form


@pytest.mark.parametrize("kind", PAGES)
def test_every_kind_of_page_carries_the_strict_policy(client_for, page_objects, kind) -> None:
    role, path, status = PAGES[kind]

    response = client_for(role).get(path(*page_objects), HTTP_ACCEPT="text/html")

    assert response.status_code == status
    header = response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header
    policy = directives(header)
    assert {name: " ".join(policy.get(name, [])) for name in WANTED} == WANTED
    assert policy["img-src"] == ["'self'", "data:"]  # Bootstrap's icons are data: SVGs
    if response["Content-Type"].startswith("text/html"):
        assert inline_code(response.content.decode()) == []


def test_a_view_with_its_own_policy_keeps_it(client_for, member) -> None:
    """The inline file view sandboxes what it serves; the site policy must not replace that."""
    dataset = upload_dataset(member, files={"frame.png": PNG})
    datafile = dataset.files.get()
    url = reverse("catalog:datafile_inline", args=[dataset.pk, datafile.pk])

    response = client_for("viewer").get(url)

    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_no_template_holds_code_the_policy_blocks() -> None:
    found = {
        str(path.relative_to(TEMPLATES)): problems
        for path in sorted(TEMPLATES.rglob("*.html"))
        if (problems := inline_code(DJANGO_COMMENT.sub("", path.read_text())))
    }

    assert found == {}, "move these into static/lakeweb/ (see STYLE.md, Templates)"


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">alert(1)</script>',
        '<script type="module">import "x"</script>',
        "<style>p { color: red }</style>",
        '<div class="x" style="width: 0%">',
        "<form method=post onsubmit=\"return confirm('?')\">",
        '<a href="javascript:void(0)">',
    ],
)
def test_the_template_check_finds_each_kind_of_inline_code(markup: str) -> None:
    assert inline_code(markup) != []


def test_the_template_check_reads_past_template_comments() -> None:
    template = "{# no <script> here #}{% comment %}nor style= here{% endcomment %}<p>ok</p>"
    assert inline_code(DJANGO_COMMENT.sub("", template)) == []


def test_the_template_check_allows_what_the_policy_allows() -> None:
    markup = (
        '<script src="/static/lakeweb/tree.js" defer></script>'
        '<form data-confirm="Delete this dataset?"><button type="submit">Delete</button></form>'
        '<script type="application/json" id="drf_csrf">{"csrfToken": "x"}</script>'
        '<meta http-equiv="refresh" content="3"><p>Stylesheets and onward links are fine.</p>'
    )
    assert inline_code(markup) == []
