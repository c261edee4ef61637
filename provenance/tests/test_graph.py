"""The drawn provenance graph: selector (bounded, three queries), SVG, page per role."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from catalog import services
from catalog.models import Activity, Dataset, Layer, Source
from catalog.tests.factories import DatasetFactory, promote_dataset, upload_dataset
from conftest import ROLES
from provenance.drawing import COLUMN, graph_svg
from provenance.graph import provenance_graph

pytestmark = pytest.mark.django_db
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script> & co'
BROWSE = {"anonymous": 302, "viewer": 200, "member": 200, "curator": 200, "admin": 200}


def _derive(owner, sources: list[Dataset], *, name: str) -> Dataset:
    """A dataset uploaded into processed, derived from ``sources`` (the real service)."""
    draft = services.DatasetDraft(
        owner=owner,
        name=name,
        source=Source.objects.get(slug="upload"),
        experiments=[{}],
        layer=Layer.PROCESSED,
        derived_from=[str(source.pk) for source in sources],
    )
    items = [services.UploadedItem(path="out.csv", stream=io.BytesIO(b"a\n1\n"))]
    return services.dataset_upload(draft=draft, items=items)


@pytest.fixture
def family(member) -> dict[str, Dataset]:
    """raw → (promotion) processed → (derivation, with another raw) derived."""
    raw = upload_dataset(member, name="Raw scan")
    processed = promote_dataset(raw, member)
    other = upload_dataset(member, name=HOSTILE, files={"x.txt": b"x"})
    derived = _derive(member, [processed, other], name="Filtered scan")
    return {"raw": raw, "processed": processed, "other": other, "derived": derived}


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 - our own markup: is it well-formed XML?


def _nodes(root: ET.Element) -> dict[str, ET.Element]:
    return {a.get("data-id"): a for a in root.iter(f"{SVG}a")}


def test_the_graph_holds_ancestors_and_descendants_with_activities(family) -> None:
    graph = provenance_graph(dataset=family["processed"])

    ids = {node.id for node in graph.nodes}
    # The other source of the derived dataset is its ancestor, not this one's.
    assert ids == {family["raw"].pk, family["processed"].pk, family["derived"].pk}
    edges = {(e.parent, e.child): e.activities for e in graph.edges}
    assert edges == {
        (family["raw"].pk, family["processed"].pk): ("promotion",),
        (family["processed"].pk, family["derived"].pk): ("derivation",),
    }
    ranks = {node.id: node.rank for node in graph.nodes}
    assert [ranks[family[k].pk] for k in ("raw", "processed", "derived")] == [0, 1, 2]
    assert [node.focus for node in graph.nodes] == [False, True, False]
    assert graph.left_out == 0 and not graph.truncated


def test_the_svg_draws_nodes_edges_and_links_left_to_right(family) -> None:
    graph = provenance_graph(dataset=family["derived"])
    root = _parsed(graph_svg(graph=graph, title="Graph"))

    nodes = _nodes(root)
    assert set(nodes) == {str(family[k].pk) for k in ("raw", "processed", "other", "derived")}
    for key, dataset in family.items():
        link = nodes[str(dataset.pk)]
        assert link.get("href") == reverse("catalog:dataset_detail", args=[dataset.pk]), key
        assert link.get("data-layer") == dataset.layer
        texts = [t.text for t in link.iter(f"{SVG}text")]
        assert texts[1] == dataset.layer
    x = {key: int(nodes[str(family[key].pk)].find(f"{SVG}rect").get("x")) for key in family}
    assert x["raw"] == x["other"] < x["processed"] < x["derived"]
    assert x["processed"] - x["raw"] == COLUMN
    edges = {
        (g.get("data-parent"), g.get("data-child")): g.find(f"{SVG}text").text
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "prov-edge"
    }
    assert edges == {
        (str(family["raw"].pk), str(family["processed"].pk)): "promotion",
        (str(family["processed"].pk), str(family["derived"].pk)): "derivation",
        (str(family["other"].pk), str(family["derived"].pk)): "derivation",
    }
    fills = {key: nodes[str(family[key].pk)].find(f"{SVG}rect").get("fill") for key in family}
    assert fills["raw"] == fills["other"] != fills["processed"] == fills["derived"]
    legend = [t.text for t in root.iter(f"{SVG}text") if t.get("class") is None]
    assert legend == ["raw", "processed", "curated", "archive"]


def test_a_hostile_name_is_escaped_in_the_page(client_for, family) -> None:
    url = reverse("provenance:dataset_graph", args=[family["derived"].pk])
    page = client_for("viewer").get(url).content.decode()

    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    # The page's SVG is well-formed, the name inside it text, not markup.
    svg = page[page.index("<svg") : page.index("</svg>") + 6]
    node = _nodes(_parsed(svg))[str(family["other"].pk)]
    assert node.find(f"{SVG}title").text == f"{HOSTILE} (raw)"  # whole in the tooltip
    assert node.find(f"{SVG}text").text == '<script>alert("x")</scrip…'  # cut in the box


def test_the_selector_costs_three_queries_however_deep(
    member, django_assert_max_num_queries
) -> None:
    chain = [DatasetFactory(owner=member, name="Root")]
    for depth in range(30):
        child = DatasetFactory(owner=member, name=f"Gen {depth}", layer=Layer.PROCESSED)
        services.provenance_record(
            activity=Activity.DERIVATION, actor=member, dataset=child, used=[chain[-1]]
        )
        chain.append(child)
    with django_assert_max_num_queries(3):
        graph = provenance_graph(dataset=chain[15])
    assert len(graph.nodes) == 31 and graph.ranks == 31


def test_a_large_graph_is_capped_and_says_how_many_were_left_out(
    client_for, member, django_assert_max_num_queries
) -> None:
    root = DatasetFactory(owner=member, name="Root")
    for number in range(250):
        child = DatasetFactory(owner=member, name=f"Child {number}", layer=Layer.PROCESSED)
        services.provenance_record(
            activity=Activity.DERIVATION, actor=member, dataset=child, used=[root]
        )

    with django_assert_max_num_queries(3):
        graph = provenance_graph(dataset=root)

    assert len(graph.nodes) == 200 and graph.reached == 251 and graph.left_out == 51
    assert len(graph.edges) == 199  # only between the datasets drawn
    page = client_for("viewer").get(reverse("provenance:dataset_graph", args=[root.pk]))
    text = page.content.decode()
    assert "the 200 nearest to this one are drawn, 51 are left out" in text
    assert text.count('class="prov-node') == 200


def test_a_loop_in_the_record_ends_the_walk(member) -> None:
    first = DatasetFactory(owner=member, name="First", layer=Layer.PROCESSED)
    second = DatasetFactory(owner=member, name="Second", layer=Layer.PROCESSED)
    for dataset, used in ((first, second), (second, first)):
        services.provenance_record(
            activity=Activity.NOTE, actor=member, dataset=dataset, used=[used]
        )
    graph = provenance_graph(dataset=first)
    assert {node.id for node in graph.nodes} == {first.pk, second.pk}
    assert len(graph.edges) == 2


@pytest.mark.parametrize("role", ROLES)
def test_graph_page_per_role(client_for, member, role: str) -> None:
    dataset = upload_dataset(member)
    response = client_for(role).get(reverse("provenance:dataset_graph", args=[dataset.pk]))
    assert response.status_code == BROWSE[role]
    if response.status_code == 200:
        assert "No other dataset is linked to this one yet." in response.content.decode()
    elif role == "anonymous":
        assert response["Location"].startswith(reverse("account_login"))


def test_graph_page_for_an_unknown_dataset_is_404(client_for) -> None:
    url = reverse("provenance:dataset_graph", args=["00000000-0000-0000-0000-000000000000"])
    response = client_for("viewer").get(url)
    assert response.status_code == 404
    assert "No such dataset." in response.content.decode()


def test_the_dataset_page_links_the_graph(client_for, member) -> None:
    dataset = upload_dataset(member)
    page = client_for("viewer").get(reverse("catalog:dataset_detail", args=[dataset.pk]))
    assert reverse("provenance:dataset_graph", args=[dataset.pk]) in page.content.decode()
