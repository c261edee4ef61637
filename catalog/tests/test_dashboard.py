"""The dashboard and layers pages, and the SVG charts they draw."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import services
from catalog.charts import (
    BARS_WIDTH,
    BYTES,
    LABEL_WIDTH,
    VALUE_WIDTH,
    bar_chart,
    column_chart,
)
from catalog.models import Dataset, Source
from conftest import ROLES

from .factories import promote_dataset, upload_dataset
from .test_stats import upload_from

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
PAGES = ("catalog:dashboard", "catalog:layers")
BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}
SCRIPT = "<script>x</script>"
MARKER = {"catalog:dashboard": "raw: 1 datasets", "catalog:layers": "Recent promotions"}


def parse(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed to be drawn inline at all."""
    return ET.fromstring(svg)  # noqa: S314 - markup this code made, with no entities


def bars(svg: str) -> list[ET.Element]:
    return parse(svg).findall(f"{SVG}g")


# --- permissions per role -----------------------------------------------------------


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_pages_per_role(client_for, member, page: str, role: str) -> None:
    upload_dataset(member, name="Zebrafish heart")
    response = client_for(role).get(reverse(page))
    assert response.status_code == BROWSE[role]
    if role == "anonymous":
        assert response["Location"].startswith(reverse("account_login"))
    if response.status_code == 200:
        assert MARKER[page] in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_user_without_a_role_is_refused_with_a_reason(client, django_user_model, page) -> None:
    nobody = django_user_model.objects.create_user(username="n", email="n@lab.example")
    client.force_login(nobody)
    response = client.get(reverse(page))
    assert response.status_code == 403
    assert "ask an admin" in response.content.decode()


@pytest.mark.parametrize("page", PAGES)
def test_public_browsing_opens_the_pages_to_anonymous(client, settings, page) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    assert client.get(reverse(page)).status_code == 200


# --- what the pages show ------------------------------------------------------------


def test_dashboard_shows_totals_and_three_charts(client_for, member) -> None:
    promote_dataset(upload_dataset(member), member)
    page = client_for("viewer").get(reverse("catalog:dashboard")).content.decode()
    assert page.count('role="img"') == 3
    assert '<div class="fs-3" id="total-datasets">2</div>' in page
    assert "Ready datasets per layer" in page and "Storage per source" in page
    assert "raw: 1 datasets" in page and "processed: 1 datasets" in page
    assert "Datasets uploaded per month, last 12 months" in page


def test_dashboard_escapes_source_names(client_for, member) -> None:
    upload_from(member, Source.objects.create(slug="evil", name=SCRIPT))
    page = client_for("viewer").get(reverse("catalog:dashboard")).content.decode()
    assert SCRIPT not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_layers_page_shows_counts_and_recent_promotions(client_for, member, curator) -> None:
    raw = upload_dataset(member, name="Heart")
    processed = promote_dataset(raw, member)
    services.dataset_promote_request(dataset=upload_dataset(member, name="Liver"), user=member)
    page = client_for("viewer").get(reverse("catalog:layers")).content.decode()
    assert "66.7 %" in page and "33.3 %" in page  # two raw datasets, one processed
    assert reverse("catalog:dataset_detail", args=[raw.pk]) in page
    assert reverse("catalog:dataset_detail", args=[processed.pk]) in page
    assert "succeeded" in page and "queued" in page
    assert member.email in page


def test_layers_page_without_promotions(client_for) -> None:
    page = client_for("viewer").get(reverse("catalog:layers")).content.decode()
    assert "No promotions yet." in page
    assert page.count("0.0 %") == 8  # four layers, two shares each, on an empty lake


def test_pages_run_the_same_queries_however_big_the_lake(client_for, member) -> None:
    promote_dataset(upload_dataset(member), member)
    small = {page: queries_of(client_for, page) for page in PAGES}

    for number in range(10):
        source = Source.objects.create(slug=f"source-{number}", name=f"Source {number}")
        for count in range(5):
            dataset = upload_from(member, source, name=f"S{number}-{count}", tags=[f"tag{count}"])
            if count == 0:
                services.dataset_promote_request(dataset=dataset, user=member)
    assert Dataset.objects.filter(status="ready").count() == 52
    big = {page: queries_of(client_for, page) for page in PAGES}

    for page in PAGES:
        assert len(big[page]) == len(small[page]), page
        assert all('FROM "catalog_dataset"' not in sql for sql in big[page]), page


def queries_of(client_for, page: str) -> list[str]:
    client = client_for("viewer")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse(page)).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


# --- the charts ---------------------------------------------------------------------


def test_chart_escapes_labels() -> None:
    for chart in (bar_chart, column_chart):
        svg = chart(title=f"Sources {SCRIPT}", items=[(SCRIPT, 3), ("a & b", 1)], unit="datasets")
        assert SCRIPT not in svg
        assert "&lt;script&gt;x&lt;/script&gt;" in svg and "a &amp; b" in svg
        root = parse(svg)  # escaped, so still well-formed
        assert root.get("aria-label") == f"Sources {SCRIPT}"
        assert root.find(f"{SVG}g/{SVG}title").text == f"{SCRIPT}: 3 datasets"


def test_chart_is_accessible() -> None:
    root = parse(
        bar_chart(title="Per layer", items=[("raw", 1234567), ("curated", 0)], unit="datasets")
    )
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Per layer"
    assert root.find(f"{SVG}desc").text == "raw: 1,234,567 datasets; curated: 0 datasets"
    labels = [g.find(f"{SVG}title").text for g in root.findall(f"{SVG}g")]
    assert labels == ["raw: 1,234,567 datasets", "curated: 0 datasets"]
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["1,234,567", "0"]


def test_bytes_are_human_readable_with_the_exact_value_in_the_tooltip() -> None:
    root = parse(bar_chart(title="Storage", items=[("geo", 1536), ("pdb", 12)], unit=BYTES))
    values = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-value"]
    assert values == ["1.5\xa0KiB", "12\xa0B"]
    titles = [g.find(f"{SVG}title").text for g in root.findall(f"{SVG}g")]
    assert titles == ["geo: 1,536 bytes (1.5\xa0KiB)", "pdb: 12 bytes"]


def widths(svg: str) -> list[float]:
    return [float(g.find(f"{SVG}rect").get("width")) for g in bars(svg)]


def heights(svg: str) -> list[float]:
    return [float(g.find(f"{SVG}rect").get("height")) for g in bars(svg)]


def test_bars_scale_to_the_largest_value() -> None:
    full = widths(bar_chart(title="t", items=[("one", 5)], unit="datasets"))
    assert full == [BARS_WIDTH - LABEL_WIDTH - VALUE_WIDTH]  # a single bar fills the row
    scaled = widths(bar_chart(title="t", items=[("a", 10), ("b", 5), ("c", 0), ("d", 1)], unit="x"))
    assert scaled[0] == full[0] and scaled[1] == full[0] / 2 and scaled[2] == 0
    tiny = widths(bar_chart(title="t", items=[("big", 10**12), ("small", 1)], unit="x"))
    assert tiny[1] >= 1  # a value above zero always shows


def test_all_zero_and_empty_data_draw_without_failing() -> None:
    months = [(f"M{number}", 0) for number in range(12)]
    assert heights(column_chart(title="Uploads", items=months, unit="datasets")) == [0.0] * 12
    assert widths(bar_chart(title="Layers", items=[("raw", 0), ("processed", 0)], unit="x")) == [
        0.0,
        0.0,
    ]
    for chart in (bar_chart, column_chart):
        root = parse(chart(title="Nothing", items=[], unit="datasets"))
        assert root.find(f"{SVG}desc").text == "No data yet."
        assert [t.text for t in root.iter(f"{SVG}text")] == ["No data yet."]


def test_columns_stay_inside_the_picture() -> None:
    svg = column_chart(title="Uploads", items=[("Jan 2025", 3), ("Feb 2025", 7)], unit="datasets")
    root = parse(svg)
    _x, _y, width, height = (float(n) for n in root.get("viewBox").split())
    for g in bars(svg):
        rect = g.find(f"{SVG}rect")
        x, y = float(rect.get("x")), float(rect.get("y"))
        assert x >= 0 and x + float(rect.get("width")) <= width
        assert y >= 0 and y + float(rect.get("height")) <= height
    assert max(heights(svg)) > 100


def test_long_labels_are_cut_in_the_picture_but_whole_in_the_tooltip() -> None:
    name = "A very long source name that goes on and on"
    g = bars(bar_chart(title="t", items=[(name, 1)], unit="datasets"))[0]
    label = next(t for t in g.iter(f"{SVG}text") if t.get("class") == "chart-label")
    assert label.text.endswith("…") and len(label.text) == 24
    assert g.find(f"{SVG}title").text == f"{name}: 1 datasets"
