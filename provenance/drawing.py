"""The provenance graph drawn on the server as SVG: no script, no CDN, nothing for CSP to allow.

Generations run left to right (a column per rank), each dataset a box
coloured by its layer that links to its page, each edge an arrow labelled
with the activities that made the child. Every text is user data (dataset
names) or comes from the database, and goes through ``format_html``, as in
``catalog.charts``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .graph import GraphEdge, GraphNode, ProvenanceGraph

COLUMN = 280  # from one generation to the next: a gap of 90 for the arrows' labels
NODE_W, NODE_H = 190, 46
ROW = 66  # from one dataset to the next in a generation
MARGIN = 16
LEGEND_H = 34
NAME_CHARS = 26  # longer names are cut in the picture; the tooltip keeps them whole
# Fill and border per layer (Bootstrap's subtle and strong tones).
LAYER_COLOURS = {
    "raw": ("#e9ecef", "#495057"),
    "processed": ("#cfe2ff", "#0a58ca"),
    "curated": ("#d1e7dd", "#146c43"),
    "archive": ("#fff3cd", "#997404"),
}
UNKNOWN_COLOURS = ("#f8f9fa", "#6c757d")


def _cut(text: str) -> str:
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 1] + "…"


def _positions(nodes: list[GraphNode], edges: list[GraphEdge]) -> dict[Any, tuple[int, int]]:
    """Top-left corner of each box: its rank's column, rows ordered near their parents.

    One sweep left to right puts each dataset at the mean row of its parents
    (the barycentre heuristic), which keeps most edges short and uncrossed.
    """
    parents: dict[Any, list[Any]] = defaultdict(list)
    for edge in edges:
        parents[edge.child].append(edge.parent)
    columns: dict[int, list[GraphNode]] = defaultdict(list)
    for node in nodes:
        columns[node.rank].append(node)
    row: dict[Any, float] = {}
    for rank in sorted(columns):
        column = columns[rank]
        for index, node in enumerate(column):
            placed = [row[p] for p in parents[node.id] if p in row]
            row[node.id] = sum(placed) / len(placed) if placed else index
        column.sort(key=lambda n: row[n.id])
        for index, node in enumerate(column):
            row[node.id] = index
    top = MARGIN + LEGEND_H
    return {node.id: (MARGIN + node.rank * COLUMN, top + int(row[node.id]) * ROW) for node in nodes}


def _node(node: GraphNode, x: int, y: int) -> SafeString:
    fill, stroke = LAYER_COLOURS.get(node.layer, UNKNOWN_COLOURS)
    state = "" if node.status == "ready" else f" · {node.status}"
    return format_html(
        '<a href="{}" class="prov-node{}" data-id="{}" data-layer="{}">'
        "<title>{} ({}{})</title>"
        '<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" stroke="{}" '
        'stroke-width="{}"></rect>'
        '<text x="{}" y="{}" class="prov-name">{}</text>'
        '<text x="{}" y="{}" class="prov-layer">{}{}</text></a>',
        reverse("catalog:dataset_detail", args=[node.id]),
        " prov-focus" if node.focus else "",
        node.id,
        node.layer,
        node.name,
        node.layer,
        state,
        x,
        y,
        NODE_W,
        NODE_H,
        fill,
        stroke,
        3 if node.focus else 1,
        x + 10,
        y + 19,
        _cut(node.name),
        x + 10,
        y + 36,
        node.layer,
        state,
    )


def _edge(edge: GraphEdge, start: tuple[int, int], end: tuple[int, int]) -> SafeString:
    x1, y1 = start[0] + NODE_W, start[1] + NODE_H // 2
    x2, y2 = end[0], end[1] + NODE_H // 2
    bend = max(40, (x2 - x1) // 2)
    label = ", ".join(edge.activities)
    return format_html(
        '<g class="prov-edge" data-parent="{}" data-child="{}">'
        '<path d="M{} {} C{} {} {} {} {} {}" fill="none" stroke="#6c757d" '
        'marker-end="url(#prov-arrow)"></path>'
        '<text x="{}" y="{}" text-anchor="middle" class="prov-activity">{}</text></g>',
        edge.parent,
        edge.child,
        x1,
        y1,
        x1 + bend,
        y1,
        x2 - bend,
        y2,
        x2,
        y2,
        # By the arrow's head, in the gap before the child: what made a dataset
        # is one activity, so the labels of the arrows into it say the same.
        x2 - (COLUMN - NODE_W) // 2,
        y2 - 6,
        label,
    )


def _legend() -> SafeString:
    items = [
        (MARGIN + index * 120, MARGIN, fill, stroke, MARGIN + index * 120 + 22, MARGIN + 12, name)
        for index, (name, (fill, stroke)) in enumerate(LAYER_COLOURS.items())
    ]
    return format_html(
        '<g class="prov-legend">{}</g>',
        format_html_join(
            "",
            '<rect x="{}" y="{}" width="16" height="16" rx="3" fill="{}" stroke="{}"></rect>'
            '<text x="{}" y="{}">{}</text>',
            items,
        ),
    )


def graph_svg(*, graph: ProvenanceGraph, title: str) -> SafeString:
    """The graph as an inline SVG image, with a description naming every dataset."""
    at = _positions(graph.nodes, graph.edges)
    rows = max((sum(1 for n in graph.nodes if n.rank == r) for r in range(graph.ranks)), default=1)
    width = 2 * MARGIN + max(graph.ranks - 1, 0) * COLUMN + NODE_W
    height = 2 * MARGIN + LEGEND_H + (rows - 1) * ROW + NODE_H
    description = "; ".join(f"{node.name} ({node.layer})" for node in graph.nodes)
    edges = format_html_join(
        "", "{}", ((_edge(e, at[e.parent], at[e.child]),) for e in graph.edges)
    )
    nodes = format_html_join("", "{}", ((_node(n, *at[n.id]),) for n in graph.nodes))
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="prov-graph" role="img" '
        'aria-label="{}" viewBox="0 0 {} {}" width="{}" height="{}">'
        "<title>{}</title><desc>{}</desc>"
        '<defs><marker id="prov-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="8" markerHeight="8" orient="auto-start-reverse">'
        '<path d="M0 0 L10 5 L0 10 z" fill="#6c757d"></path></marker></defs>'
        "{}{}{}</svg>",
        title,
        width,
        height,
        width,
        height,
        title,
        description,
        _legend(),
        edges,
        nodes,
    )
