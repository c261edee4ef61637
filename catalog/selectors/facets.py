"""Facet counts beside the catalog's results: layers, sources, forms and tags.

Counts are those of the current results. They come from the tallies when
the filters are only layer, source and form (the catalog's landing page at a
million datasets reads a few hundred tally rows), from the matching datasets
when at most ``COUNT_LIMIT`` match, and are left out otherwise: the values
stay clickable, and the page says why there are no counts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Sum

from ..models import Dataset, DatasetTally, Layer, MetadataForm, Source, TagTally
from .search import DatasetQuery, dataset_filter

TOP_TAGS = 15


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
    labels: dict[str, str], counts: Counter[str] | None, selected: str | tuple[str, ...]
) -> list[FacetValue]:
    chosen = {selected} if isinstance(selected, str) else set(selected)
    shown = [
        FacetValue(
            value, label, counts.get(value, 0) if counts is not None else None, value in chosen
        )
        for value, label in labels.items()
        if counts is None or counts.get(value) or value in chosen
    ]
    if counts is not None:
        shown.sort(key=lambda facet: (-(facet.count or 0), facet.label))
    return shown


def _tally_counts(query: DatasetQuery) -> tuple[Counter[str], Counter[str], Counter[str]]:
    rows = DatasetTally.objects.all()
    if query.layer:
        rows = rows.filter(layer=query.layer)
    if query.source:
        rows = rows.filter(source__slug=query.source)
    if query.form:
        rows = rows.filter(form_id=query.form)
    layers: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    forms: Counter[str] = Counter()
    grouped = rows.values("layer", "source__slug", "form_id").annotate(n=Sum("datasets"))
    for row in grouped.order_by():
        layers[row["layer"]] += row["n"]
        sources[row["source__slug"]] += row["n"]
        if row["form_id"]:
            forms[str(row["form_id"])] += row["n"]
    return layers, sources, forms


def _tag_tally_counts(query: DatasetQuery) -> Counter[str]:
    rows = TagTally.objects.filter(datasets__gt=0)
    if query.layer:
        rows = rows.filter(layer=query.layer)
    grouped = rows.values("tag__name").annotate(n=Sum("datasets")).order_by("-n")[:TOP_TAGS]
    return Counter({row["tag__name"]: row["n"] for row in grouped})


def _match_counts(query: DatasetQuery) -> tuple[Counter[str], ...]:
    matched = dataset_filter(query=query)
    layers = Counter(
        {row["layer"]: row["n"] for row in matched.values("layer").annotate(n=Count("pk"))}
    )
    sources = Counter(
        {
            row["source__slug"]: row["n"]
            for row in matched.values("source__slug").annotate(n=Count("pk"))
        }
    )
    forms = Counter(
        {
            str(row["form_version__form_id"]): row["n"]
            for row in matched.values("form_version__form_id").annotate(n=Count("pk"))
            if row["form_version__form_id"]
        }
    )
    tagged = (
        Dataset.tags.through.objects.filter(dataset__in=matched.values("pk"))
        .values("tag__name")
        .annotate(n=Count("dataset_id"))
        .order_by("-n")[:TOP_TAGS]
    )
    tags = Counter({row["tag__name"]: row["n"] for row in tagged})
    return layers, sources, forms, tags


def dataset_facets(*, query: DatasetQuery, countable: bool) -> Facets:
    """Facets for ``query``; ``countable`` says at most COUNT_LIMIT datasets match."""
    sources = dict(Source.objects.values_list("slug", "name"))
    forms = {str(pk): name for pk, name in MetadataForm.objects.values_list("pk", "name")}
    layer_labels = {layer: layer for layer in Layer.values}
    form_selected = str(query.form) if query.form else ""
    tag_counts: Counter[str] | None
    if query.tally_only:
        layer_counts, source_counts, form_counts = _tally_counts(query)
        tag_counts = None
        if not (query.source or query.form):
            tag_counts = _tag_tally_counts(query)
        elif countable:
            tag_counts = _match_counts(query)[3]
    elif countable:
        layer_counts, source_counts, form_counts, tag_counts = _match_counts(query)
    else:
        return Facets(
            layers=_values(layer_labels, None, query.layer),
            sources=_values(sources, None, query.source),
            forms=_values(forms, None, form_selected),
            tags=[FacetValue(name, name, None, True) for name in query.tags],
            counted=False,
        )
    tag_labels = {name: name for name in (*(tag_counts or {}), *query.tags)}
    return Facets(
        layers=_values(layer_labels, layer_counts, query.layer),
        sources=_values(sources, source_counts, query.source),
        forms=_values(forms, form_counts, form_selected),
        tags=_values(tag_labels, tag_counts, query.tags) if tag_counts is not None else [],
        counted=True,
    )
