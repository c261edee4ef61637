from __future__ import annotations

import pytest

from catalog.models import Dataset
from catalog.tests.factories import promote_dataset, upload_dataset
from provenance.selectors import lineage, lineage_graph

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
