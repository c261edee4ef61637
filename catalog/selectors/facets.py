"""Facets beside the catalog's results: layers, sources, forms and tags, with counts.

The counts are those of the current results (``counts.py`` says where they
come from). When too many datasets match to count them, the values stay
clickable without counts and the page says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from ..models import Layer, MetadataForm, Source
from .counts import MatchCounts
from .search import DatasetQuery


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int | None
    selected: bool


@dataclass(frozen=True)
class Facets:
    layers: list[FacetValue]
    sources: list[FacetValue]
    forms: list[FacetValue]
    tags: list[FacetValue]
    counted: bool


def _values(
    labels: Mapping[str, str], counts: Mapping[str, int] | None, chosen: set[str]
) -> list[FacetValue]:
    if counts is None:
        return [FacetValue(v, label, None, v in chosen) for v, label in labels.items()]
    shown = [
        FacetValue(value, label, counts.get(value, 0), value in chosen)
        for value, label in labels.items()
        if counts.get(value) or value in chosen
    ]
    return sorted(shown, key=lambda facet: (-(facet.count or 0), facet.label))


def _by_key(counts: Counter[int] | None, keys: dict[int, str]) -> dict[str, int] | None:
    if counts is None:
        return None
    return {keys[pk]: n for pk, n in counts.items() if pk in keys}


def dataset_facets(*, query: DatasetQuery, counts: MatchCounts) -> Facets:
    """The facet values for ``query``, counted as ``counts`` allows."""
    sources = list(Source.objects.values_list("pk", "slug", "name"))
    forms = list(MetadataForm.objects.values_list("pk", "name"))
    slug_of = {pk: slug for pk, slug, _name in sources}
    tag_counts = counts.tags
    tag_labels = {name: name for name in (*(tag_counts or {}), *query.tags)}
    chosen_tags = set(query.tags)
    return Facets(
        layers=_values({layer: layer for layer in Layer.values}, counts.layers, {query.layer}),
        sources=_values(
            {slug: name for _pk, slug, name in sources},
            _by_key(counts.sources, slug_of),
            {query.source},
        ),
        forms=_values(
            {str(pk): name for pk, name in forms},
            _by_key(counts.forms, {pk: str(pk) for pk, _name in forms}),
            {str(query.form) if query.form else ""},
        ),
        tags=_values(tag_labels, tag_counts, chosen_tags)
        if tag_counts is not None
        else [FacetValue(name, name, None, True) for name in query.tags],
        counted=counts.exact and counts.layers is not None,
    )
