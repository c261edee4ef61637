"""Provenance reads: lineage and graph (the exports are in ``provenance.exports``).

The events they walk are catalog's (``catalog.models.ProvenanceEvent``),
which also serves a dataset's timeline.
"""

from __future__ import annotations

from typing import Any

from catalog.models import Dataset, ProvenanceEvent

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


def descendants(*, dataset_id: Any) -> list[Dataset]:
    """Every dataset made from this one, at any depth (through ``used`` links)."""
    ids = {child for _parent, child in _walk(dataset_id, _children)} - {dataset_id}
    return list(Dataset.objects.filter(pk__in=ids).only("id", "name", "layer", "status"))
