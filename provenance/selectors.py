"""Provenance reads: lineage, graph and W3C PROV-JSON export.

The events they walk are catalog's (``catalog.models.ProvenanceEvent``),
which also serves a dataset's timeline.
"""

from __future__ import annotations

from typing import Any

from catalog.models import Activity, Dataset, ProvenanceEvent

MAX_GRAPH_NODES = 5000


def _parents(ids: set[Any]) -> dict[Any, set[Any]]:
    pairs = ProvenanceEvent.used.through.objects.filter(provenanceevent__dataset_id__in=ids)
    parents: dict[Any, set[Any]] = {}
    for child, parent in pairs.values_list("provenanceevent__dataset_id", "dataset_id"):
        parents.setdefault(child, set()).add(parent)
    return parents


def _children(ids: set[Any]) -> dict[Any, set[Any]]:
    pairs = ProvenanceEvent.used.through.objects.filter(dataset_id__in=ids)
    children: dict[Any, set[Any]] = {}
    for parent, child in pairs.values_list("dataset_id", "provenanceevent__dataset_id"):
        if child is not None:
            children.setdefault(parent, set()).add(child)
    return children


def _walk(start: Any, step: Any) -> set[tuple[Any, Any]]:
    """Edges (parent, child) reached from ``start`` one level per query."""
    edges: set[tuple[Any, Any]] = set()
    seen, frontier = {start}, {start}
    while frontier and len(seen) < MAX_GRAPH_NODES:
        found = step(frontier)
        frontier = set()
        for node, others in found.items():
            for other in others:
                edges.add((other, node) if step is _parents else (node, other))
                if other not in seen:
                    seen.add(other)
                    frontier.add(other)
    return edges


def lineage_graph(*, dataset: Dataset) -> dict[str, Any]:
    """Ancestors and descendants of a dataset as nodes and (parent, child) edges."""
    edges = _walk(dataset.pk, _parents) | _walk(dataset.pk, _children)
    ids = {dataset.pk} | {node for edge in edges for node in edge}
    nodes = Dataset.objects.filter(pk__in=ids).only("id", "name", "layer", "status")
    return {"nodes": list(nodes), "edges": sorted(edges, key=str)}


def lineage(*, dataset: Dataset) -> list[Dataset]:
    """The linear chain back to the first ancestor (first parent at each step)."""
    chain = [dataset]
    seen = {dataset.pk}
    current = dataset.pk
    while len(chain) < MAX_GRAPH_NODES:
        parents = sorted(_parents({current}).get(current, set()), key=str)
        if not parents or parents[0] in seen:
            break
        current = parents[0]
        seen.add(current)
        chain.append(Dataset.objects.get(pk=current))
    return list(reversed(chain))


def prov_document(*, dataset: Dataset) -> dict[str, Any]:
    """The dataset's provenance graph as W3C PROV-JSON (https://www.w3.org/submissions/prov-json/)."""
    graph = lineage_graph(dataset=dataset)
    ids = [node.pk for node in graph["nodes"]]
    events = ProvenanceEvent.objects.filter(dataset_id__in=ids).prefetch_related("used")
    doc: dict[str, Any] = {
        "prefix": {"lakeweb": "urn:lakeweb:", "dataset": "urn:lakeweb:dataset:"},
        "entity": {
            f"dataset:{node.pk}": {"prov:label": node.name, "lakeweb:layer": node.layer}
            for node in graph["nodes"]
        },
        "activity": {},
        "agent": {},
        "wasGeneratedBy": {},
        "used": {},
        "wasAssociatedWith": {},
    }
    for event in events:
        _prov_event(doc, event)
    return doc


def _prov_event(doc: dict[str, Any], event: ProvenanceEvent) -> None:
    activity = f"lakeweb:event-{event.pk}"
    agent = f"lakeweb:agent-{event.actor_label}"
    doc["activity"][activity] = {
        "prov:type": f"lakeweb:{event.activity}",
        "prov:startTime": event.occurred_at.isoformat(),
        "lakeweb:parameters": event.parameters,
    }
    doc["agent"][agent] = {"prov:label": event.actor_label}
    doc["wasAssociatedWith"][f"_:assoc-{event.pk}"] = {
        "prov:activity": activity,
        "prov:agent": agent,
    }
    if event.dataset_id and event.activity != Activity.NOTE:
        doc["wasGeneratedBy"][f"_:gen-{event.pk}"] = {
            "prov:entity": f"dataset:{event.dataset_id}",
            "prov:activity": activity,
        }
    for used in event.used.all():
        doc["used"][f"_:use-{event.pk}-{used.pk}"] = {
            "prov:activity": activity,
            "prov:entity": f"dataset:{used.pk}",
        }
