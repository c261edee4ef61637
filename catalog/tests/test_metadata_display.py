"""The dataset page shows long text with its lines and web addresses as links, always escaped."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import FieldType
from catalog.templatetags.metadata_display import metadata_value
from catalog.tests.factories import MetadataFieldFactory, MetadataFormFactory, sealed_dataset

REL = 'rel="noopener noreferrer nofollow"'


@pytest.mark.parametrize(
    ("value", "html"),
    [
        ("plain", "plain"),
        ("line 1\nline 2\r\nline 3", "line 1<br>line 2<br>line 3"),
        ("<b>x</b> & y", "&lt;b&gt;x&lt;/b&gt; &amp; y"),
        (
            "https://example.org/a?b=1&c=2",
            f'<a href="https://example.org/a?b=1&amp;c=2" {REL}>https://example.org/a?b=1&amp;c=2</a>',
        ),
        (
            "see http://x.org/p(1) (or HTTPS://y.org).",
            f'see <a href="http://x.org/p(1)" {REL}>http://x.org/p(1)</a> '
            f'(or <a href="HTTPS://y.org" {REL}>HTTPS://y.org</a>).',
        ),
        (
            'https://x.org/"><script>',
            f'<a href="https://x.org/" {REL}>https://x.org/</a>&quot;&gt;&lt;script&gt;',
        ),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("ftp://x.org/file", "ftp://x.org/file"),
        ("https:// nothing", "https:// nothing"),
        ("—", "—"),
    ],
)
def test_metadata_values_are_escaped_with_lines_and_links(value: str, html: str) -> None:
    assert metadata_value(value) == html


@pytest.mark.django_db
def test_dataset_page_keeps_line_breaks_and_links_addresses_escaping_the_rest(client_for, users):
    form = MetadataFormFactory()
    MetadataFieldFactory(form=form, name="notes", prompt="Notes", field_type=FieldType.LONG_TEXT)
    MetadataFieldFactory(form=form, name="protocol", prompt="Protocol", field_type=FieldType.URL)
    notes = "Day 1: seeded\nDay 2: <script>alert('x')</script> fixed\n\nsee https://lab.example/p?a=1&b=2"
    dataset = sealed_dataset(
        users["member"],
        name="Run",
        form=form,
        experiment={
            "notes": notes,
            "protocol": "https://protocols.example/<img src=x onerror=alert(1)>",
        },
    )
    html = (
        client_for("viewer")
        .get(reverse("catalog:dataset_detail", args=[dataset.pk]))
        .content.decode()
    )

    assert (
        "Day 1: seeded<br>Day 2: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; fixed<br>"
        "<br>see "
        f'<a href="https://lab.example/p?a=1&amp;b=2" {REL}>https://lab.example/p?a=1&amp;b=2</a>'
    ) in html
    assert (
        f'<a href="https://protocols.example/" {REL}>https://protocols.example/</a>'
        "&lt;img src=x onerror=alert(1)&gt;"
    ) in html
    assert "<script>alert" not in html and "<img src=x" not in html
