"""How many datasets a search matches, and how they split by layer, source, form and tag.

Counting every match of a broad search costs a scan of all of them, so:

- when the filters are only layer, source and form, the tallies kept at
  sealing answer exactly (a few hundred rows, whatever the catalog's size);
- otherwise the matches are read up to ``COUNT_LIMIT``, and counted in full
  when there are no more than that;
- beyond it the page says "more than 2,000" and shows no facet counts, the
  way search engines cap their totals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, F, Sum

from ..models import CatalogVersion, Dataset, DatasetTally, TagTally
from .search import DatasetQuery, dataset_filter

COUNT_LIMIT = 2_000
TOP_TAGS = 15


@dataclass(frozen=True)
class MatchCounts:
    total: int
    exact: bool
    # Per value, or None where not counted. Sources and forms by id.
    layers: Counter[str] | None = None
    sources: Counter[int] | None = None
    forms: Counter[int] | None = None
    tags: Counter[str] | None = None


def _tag_counts_of(matched_ids: object) -> Counter[str]:
    rows = (
        Dataset.tags.through.objects.filter(dataset_id__in=matched_ids)
        .values("tag__name")
        .annotate(n=Count("dataset_id"))
        .order_by("-n", "tag__name")[:TOP_TAGS]
    )
    return Counter({row["tag__name"]: row["n"] for row in rows})


def _tag_tally(query: DatasetQuery) -> Counter[str]:
    rows = TagTally.objects.filter(datasets__gt=0)
    if query.layer:
        rows = rows.filter(layer=query.layer)
    grouped = rows.values("tag__name").annotate(n=Sum("datasets")).order_by("-n", "tag__name")
    return Counter({row["tag__name"]: row["n"] for row in grouped[:TOP_TAGS]})


def _from_tallies(query: DatasetQuery) -> MatchCounts:
    rows = DatasetTally.objects.filter(datasets__gt=0)
    if query.layer:
        rows = rows.filter(layer=query.layer)
    if query.source:
        rows = rows.filter(source__slug=query.source)
    if query.form:
        rows = rows.filter(form_id=query.form)
    layers: Counter[str] = Counter()
    sources: Counter[int] = Counter()
    forms: Counter[int] = Counter()
    for layer, source, form, n in (
        rows.values_list("layer", "source_id", "form_id").annotate(n=Sum("datasets")).order_by()
    ):
        layers[layer] += n
        sources[source] += n
        if form:
            forms[form] += n
    total = sum(layers.values())
    if not (query.source or query.form):
        tags = _tag_tally(query)
    elif total <= COUNT_LIMIT:
        tags = _tag_counts_of(dataset_filter(query=query).values("pk"))
    else:
        tags = None
    return MatchCounts(total, True, layers, sources, forms, tags)


def _from_matches(query: DatasetQuery) -> MatchCounts:
    matched = dataset_filter(query=query)
    rows = list(
        matched.values_list("layer", "source_id", F("form_version__form_id"))[: COUNT_LIMIT + 1]
    )
    if len(rows) > COUNT_LIMIT:
        return MatchCounts(COUNT_LIMIT, False)
    layers = Counter(layer for layer, _source, _form in rows)
    sources = Counter(source for _layer, source, _form in rows)
    forms = Counter(form for _layer, _source, form in rows if form)
    tags = _tag_counts_of(matched.values("pk")) if rows else Counter()
    return MatchCounts(len(rows), True, layers, sources, forms, tags)


def catalog_version() -> int:
    """The catalog's version: it changes whenever a dataset is sealed or deleted."""
    return CatalogVersion.objects.filter(pk=1).values_list("number", flat=True).first() or 0


def dataset_counts(*, query: DatasetQuery) -> MatchCounts:
    """The number of matches (exact, or COUNT_LIMIT when more) and the facet counts."""
    return _from_tallies(query) if query.tally_only else _from_matches(query)
