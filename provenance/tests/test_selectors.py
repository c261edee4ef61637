from __future__ import annotations

import pytest

from catalog.models import Dataset
from catalog.tests.factories import promote_dataset, upload_dataset
from provenance.selectors import lineage, lineage_graph, prov_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(member, curator) -> list[Dataset]:
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    curated = promote_dataset(processed, curator)
    return [raw, processed, curated]


def test_lineage_walks_back_to_the_upload(chain) -> None:
    assert lineage(dataset=chain[2]) == chain


def test_graph_has_ancestors_and_descendants(chain) -> None:
    raw, processed, curated = chain
    graph = lineage_graph(dataset=processed)
    assert set(graph["edges"]) == {(raw.pk, processed.pk), (processed.pk, curated.pk)}
    assert {node.pk for node in graph["nodes"]} == {raw.pk, processed.pk, curated.pk}


def test_prov_json_links_activities_and_entities(chain) -> None:
    raw, processed, curated = chain
    doc = prov_document(dataset=curated)
    assert set(doc["entity"]) == {f"dataset:{d.pk}" for d in chain}
    used = {(u["prov:activity"], u["prov:entity"]) for u in doc["used"].values()}
    generated = {(g["prov:activity"], g["prov:entity"]) for g in doc["wasGeneratedBy"].values()}
    # the activity that used raw is the one that generated processed
    activity = next(a for a, e in used if e == f"dataset:{raw.pk}")
    assert (activity, f"dataset:{processed.pk}") in generated
    assert {a["prov:type"] for a in doc["activity"].values()} == {
        "lakeweb:collection",
        "lakeweb:promotion",
    }
