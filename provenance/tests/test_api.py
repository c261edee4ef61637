from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from catalog.tests.factories import promote_dataset, upload_dataset
from conftest import ROLES

pytestmark = pytest.mark.django_db

READ = {"anonymous": 401, "viewer": 200, "member": 200, "curator": 200, "admin": 200}


@pytest.fixture
def chain(member, curator):
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    curated = promote_dataset(processed, curator)
    return raw, processed, curated


def node(dataset) -> dict[str, str]:
    return {"id": str(dataset.pk), "name": dataset.name, "layer": dataset.layer}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["api:dataset_lineage", "api:dataset_graph"])
def test_provenance_endpoints_per_role(api_for, member, role: str, name: str) -> None:
    dataset = upload_dataset(member)
    response = api_for(role).get(reverse(name, args=[dataset.pk]))
    assert response.status_code == READ[role]
    assert response.json()  # a body either way: the data, or a detail message


def test_lineage_is_the_chain_oldest_first(api_for, chain) -> None:
    raw, processed, curated = chain
    response = api_for("viewer").get(reverse("api:dataset_lineage", args=[curated.pk]))
    assert response.json() == [node(raw), node(processed), node(curated)]


def test_graph_has_ancestors_descendants_and_edges(api_for, chain) -> None:
    raw, processed, curated = chain
    response = api_for("viewer").get(reverse("api:dataset_graph", args=[processed.pk]))
    body = response.json()
    assert sorted(body["nodes"], key=lambda item: item["layer"]) == sorted(
        [{**node(item), "status": "ready"} for item in chain], key=lambda item: item["layer"]
    )
    assert sorted(body["edges"], key=lambda edge: edge["parent"]) == sorted(
        [
            {"parent": str(raw.pk), "child": str(processed.pk)},
            {"parent": str(processed.pk), "child": str(curated.pk)},
        ],
        key=lambda edge: edge["parent"],
    )


@pytest.mark.parametrize("name", ["api:dataset_lineage", "api:dataset_graph"])
def test_unknown_dataset_is_a_json_404(api_for, name: str) -> None:
    response = api_for("viewer").get(reverse(name, args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert response.json() == {"detail": "No ready dataset with this id."}


def test_malformed_id_is_a_json_404(api_for) -> None:
    response = api_for("viewer").get("/api/datasets/1%27%20OR%201=1/graph/")
    assert response.status_code == 404
    assert "ids are UUIDs" in response.json()["detail"]
