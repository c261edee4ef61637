"""A dataset's provenance graph for drawing: ancestors, descendants, labelled edges, ranks.

``lineage_graph`` (``selectors``) walks one generation per query; this
walks both directions in one recursive query, so a page costs the same
whatever the depth, and bounds what it reads and what it draws.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from catalog.models import Dataset, Layer, ProvenanceEvent

MAX_DRAWN = 200  # nodes drawn; the nearest to the dataset are kept
MAX_REACHED = 5000  # ancestors (and, apart, descendants) read at most
LAYER_ORDER = {layer: index for index, layer in enumerate(Layer.values)}


@dataclass(frozen=True)
class GraphNode:
    id: Any
    name: str
    layer: str
    status: str
    rank: int  # the generation: 0 for the oldest ancestors drawn
    focus: bool  # the dataset the graph is about


@dataclass(frozen=True)
class GraphEdge:
    parent: Any
    child: Any
    activities: tuple[str, ...]  # what made the child from the parent (promotion, derivation…)


@dataclass(frozen=True)
class ProvenanceGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    reached: int  # datasets found (at most twice MAX_REACHED)
    left_out: int  # of those, how many were not drawn
    truncated: bool  # the walk stopped at MAX_REACHED: there may be more

    @property
    def ranks(self) -> int:
        return max((node.rank for node in self.nodes), default=-1) + 1

    def links(self) -> list[tuple[GraphNode, GraphNode, tuple[str, ...]]]:
        """Each edge with its two datasets, for the page's text list beside the picture."""
        by_id = {node.id: node for node in self.nodes}
        return [(by_id[e.parent], by_id[e.child], e.activities) for e in self.edges]


def provenance_graph(*, dataset: Dataset, max_nodes: int = MAX_DRAWN) -> ProvenanceGraph:
    """Ancestors and descendants of ``dataset``, with edges labelled by activity and ranks.

    Three queries, whatever the size or depth of the graph: one recursive
    query for the ids reached (at most ``MAX_REACHED`` each way), one for the
    edges between them with their activities, one for the ``max_nodes``
    nodes nearest to the dataset, which are drawn; the rest are counted in
    ``left_out``.
    """
    reached = _reached(dataset.pk)
    pairs = _edges(reached)
    kept = _nearest(dataset.pk, pairs, max_nodes)
    rows = Dataset.objects.filter(pk__in=kept).only("id", "name", "layer", "status")
    edges = [
        GraphEdge(parent, child, tuple(sorted(activities)))
        for (parent, child), activities in sorted(pairs.items(), key=str)
        if parent in kept and child in kept
    ]
    ranks = _ranks(kept, edges)
    nodes = [
        GraphNode(row.pk, row.name, row.layer, row.status, ranks[row.pk], row.pk == dataset.pk)
        for row in rows
    ]
    nodes.sort(key=lambda n: (n.rank, LAYER_ORDER.get(n.layer, 9), n.name, str(n.id)))
    return ProvenanceGraph(
        nodes=nodes,
        edges=edges,
        reached=len(reached),
        left_out=len(reached) - len(nodes),
        truncated=len(reached) >= MAX_REACHED,
    )


def _reached(start: Any) -> set[Any]:
    """The ids of ``start``, its ancestors and its descendants: one recursive query.

    ``UNION`` (not ``UNION ALL``) drops ids already reached, so a cycle ends
    the walk; each direction is cut at ``MAX_REACHED`` rows, which PostgreSQL
    stops computing once read.
    """
    event = ProvenanceEvent._meta.db_table
    used = ProvenanceEvent.used.through._meta.db_table
    table = Dataset._meta.db_table
    sql = f"""
        WITH RECURSIVE
        up(id) AS (
            SELECT id FROM {table} WHERE id = %s
            UNION
            SELECT u.dataset_id FROM up
            JOIN {event} e ON e.dataset_id = up.id
            JOIN {used} u ON u.provenanceevent_id = e.id
        ),
        down(id) AS (
            SELECT id FROM {table} WHERE id = %s
            UNION
            SELECT e.dataset_id FROM down
            JOIN {used} u ON u.dataset_id = down.id
            JOIN {event} e ON e.id = u.provenanceevent_id
            WHERE e.dataset_id IS NOT NULL
        )
        SELECT id FROM (SELECT id FROM up LIMIT %s) AS a
        UNION
        SELECT id FROM (SELECT id FROM down LIMIT %s) AS b
    """  # noqa: S608 - table names come from the models, values are parameters
    pk = Dataset._meta.pk
    assert pk is not None
    value = pk.get_db_prep_value(start, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [value, value, MAX_REACHED, MAX_REACHED])
        return {pk.to_python(row[0]) for row in cursor.fetchall()}


def _edges(ids: set[Any]) -> dict[tuple[Any, Any], set[str]]:
    """(parent, child) -> the activities that made the child from the parent."""
    through = ProvenanceEvent.used.through.objects.filter(
        dataset_id__in=ids, provenanceevent__dataset_id__in=ids
    )
    pairs: dict[tuple[Any, Any], set[str]] = {}
    rows = through.values_list(
        "dataset_id", "provenanceevent__dataset_id", "provenanceevent__activity"
    )
    for parent, child, activity in rows:
        if parent != child:
            pairs.setdefault((parent, child), set()).add(activity)
    return pairs


def _nearest(start: Any, pairs: Iterable[tuple[Any, Any]], limit: int) -> set[Any]:
    """The ``limit`` datasets fewest links away from ``start`` (breadth first)."""
    neighbours: dict[Any, set[Any]] = {}
    for parent, child in pairs:
        neighbours.setdefault(parent, set()).add(child)
        neighbours.setdefault(child, set()).add(parent)
    kept, queue = {start}, deque([start])
    while queue and len(kept) < limit:
        for other in sorted(neighbours.get(queue.popleft(), ()), key=str):
            if other not in kept and len(kept) < limit:
                kept.add(other)
                queue.append(other)
    return kept


def _ranks(nodes: set[Any], edges: list[GraphEdge]) -> dict[Any, int]:
    """Each node's generation: one more than its latest parent's (longest path).

    Provenance only points back in time, but a hand-made record could loop;
    nodes left on a loop go one rank past the others rather than hang the page.
    """
    parents: dict[Any, int] = dict.fromkeys(nodes, 0)
    children: dict[Any, list[Any]] = {node: [] for node in nodes}
    for edge in edges:
        parents[edge.child] += 1
        children[edge.parent].append(edge.child)
    rank = dict.fromkeys(nodes, 0)
    ready = deque(node for node, count in parents.items() if count == 0)
    done: set[Any] = set()
    while ready:
        node = ready.popleft()
        done.add(node)
        for child in children[node]:
            rank[child] = max(rank[child], rank[node] + 1)
            parents[child] -= 1
            if parents[child] == 0:
                ready.append(child)
    last = max((rank[node] for node in done), default=-1)
    for node in nodes - done:
        rank[node] = last + 1
    return rank
