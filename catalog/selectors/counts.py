"""How many datasets a search matches, and how they split by layer, source, form and tag.

Counting every match of a broad search costs a scan of all of them, so:

- when the filters are only layer, source and form, the tallies kept at
  sealing answer exactly. Summed over months they are a few hundred rows,
  read once per catalog version (``catalog_tallies``) and kept in the cache:
  the tallies change only when the version does;
- otherwise the matches are read up to ``COUNT_LIMIT``, and counted in full
  when there are no more than that; a lone ``field = value`` (with a layer or
  not) first asks the value tally, and when that already counts more than
  ``COUNT_LIMIT`` datasets with the value the matches are not read;
- beyond it the page says "more than 2,000" and shows no facet counts, the
  way search engines cap their totals.

``dataset_months`` splits a tally-only search by month, for numbered pages
in date order (``paging.py``).
"""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, QuerySet, Sum

from ..models import CatalogVersion, Dataset, DatasetTally, FieldValueTally, Source, TagTally
from .search import DatasetQuery, dataset_filter, value_candidates

COUNT_LIMIT = 2_000
TOP_TAGS = 15
TALLY_CACHE_SECONDS = 3600
# Part of the cached tallies' key: a new release that changes their shape must
# not read what the previous one left in a shared cache.
TALLY_FORMAT = 2


@dataclass(frozen=True)
class MatchCounts:
    total: int
    exact: bool
    # Per value, or None where not counted. Sources and forms by id.
    layers: Counter[str] | None = None
    sources: Counter[int] | None = None
    forms: Counter[int] | None = None
    tags: Counter[str] | None = None
    # The catalog version the tallies were read under (tally-only searches).
    version: int | None = field(default=None, compare=False)


def _tag_counts_of(matched_ids: QuerySet[Dataset, Mapping[str, Any]]) -> Counter[str]:
    rows = (
        Dataset.tags.through.objects.filter(dataset_id__in=matched_ids)
        .values("tag__name")
        .annotate(n=Count("dataset_id"))
        .order_by("-n", "tag__name")[:TOP_TAGS]
    )
    return Counter({row["tag__name"]: row["n"] for row in rows})


@dataclass(frozen=True)
class CatalogTallies:
    """The tallies summed over months: what tally-only searches are counted from."""

    # (layer, source id, form id or None, ready datasets)
    datasets: list[tuple[str, int, int | None, int]]
    # (tag name, layer, ready datasets)
    tags: list[tuple[str, str, int]]


def catalog_tallies(*, version: int | None = None) -> CatalogTallies:
    """The tallies of the catalog ``version`` (default: the current one), read once per version."""
    version = catalog_version() if version is None else version
    key = f"catalog-tallies:{TALLY_FORMAT}:{version}"
    tallies = cache.get(key)
    if tallies is None:
        rows = DatasetTally.objects.filter(datasets__gt=0).order_by()
        tag_rows = TagTally.objects.filter(datasets__gt=0).order_by()
        tallies = CatalogTallies(
            datasets=list(
                rows.values_list("layer", "source_id", "form_id").annotate(n=Sum("datasets"))
            ),
            tags=list(tag_rows.values_list("tag__name", "layer", "datasets")),
        )
        cache.set(key, tallies, TALLY_CACHE_SECONDS)
    return tallies


def _tag_tally(tallies: CatalogTallies, query: DatasetQuery) -> Counter[str]:
    tags: Counter[str] = Counter()
    for name, layer, n in tallies.tags:
        if not query.layer or layer == query.layer:
            tags[name] += n
    top = sorted(tags.items(), key=lambda item: (-item[1], item[0]))[:TOP_TAGS]
    return Counter(dict(top))


def _from_tallies(query: DatasetQuery, version: int) -> MatchCounts:
    tallies = catalog_tallies(version=version)
    # By id: a slug renamed since the tallies were cached must still count.
    source_id = (
        Source.objects.filter(slug=query.source).values_list("pk", flat=True).first()
        if query.source
        else None
    )
    layers: Counter[str] = Counter()
    sources: Counter[int] = Counter()
    forms: Counter[int] = Counter()
    for layer, source, form, n in tallies.datasets:
        if (
            (query.layer and layer != query.layer)
            or (query.source and source != source_id)
            or (query.form and form != query.form)
        ):
            continue
        layers[layer] += n
        sources[source] += n
        if form:
            forms[form] += n
    total = sum(layers.values())
    if not (query.source or query.form):
        tags = _tag_tally(tallies, query)
    elif total <= COUNT_LIMIT:
        tags = _tag_counts_of(dataset_filter(query=query).values("pk"))
    else:
        tags = None
    return MatchCounts(total, True, layers, sources, forms, tags, version=version)


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


def dataset_months(
    *, query: DatasetQuery, version: int | None = None
) -> list[tuple[datetime.date, int]]:
    """Ready datasets per month (local time) for a tally-only ``query``, oldest first."""
    version = catalog_version() if version is None else version
    key = f"catalog-months:{version}:{query.layer}:{query.source}:{query.form or ''}"
    months = cache.get(key)
    if months is None:
        rows = DatasetTally.objects.filter(datasets__gt=0)
        if query.layer:
            rows = rows.filter(layer=query.layer)
        if query.source:
            rows = rows.filter(source__slug=query.source)
        if query.form:
            rows = rows.filter(form_id=query.form)
        months = list(rows.values_list("month").annotate(n=Sum("datasets")).order_by("month"))
        cache.set(key, months, TALLY_CACHE_SECONDS)
    return months


def catalog_version() -> int:
    """The catalog's version: it changes whenever a dataset is sealed or deleted.

    From the shared cache when there is one (``catalog_version_bump`` sets it
    as the change commits); per-process caches would not all hear of a change.
    """
    shared = bool(settings.CACHE_URL)
    if shared and (number := cache.get(CatalogVersion.CACHE_KEY)) is not None:
        return number
    number = CatalogVersion.objects.filter(pk=1).values_list("number", flat=True).first() or 0
    if shared:
        # add, not set: a change committed meanwhile has set the newer number.
        cache.add(CatalogVersion.CACHE_KEY, number, CatalogVersion.CACHE_SECONDS)
    return number


def _surely_more(query: DatasetQuery) -> bool:
    """Whether the value tally counts more than COUNT_LIMIT matches of a lone field = value."""
    # The value tally counts per layer only: any other filter narrows past what it knows.
    others = replace(query, fields=(), list_fields=None)
    if len(query.fields) != 1 or not others.tally_only or query.source or query.form:
        return False
    name, value = query.fields[0]
    texts = [FieldValueTally.text_of(candidate) for candidate in value_candidates(value)]
    rows = FieldValueTally.objects.filter(name=name, value__in=texts)
    if query.list_fields is not None and name not in query.list_fields:
        rows = rows.filter(in_list=False)  # the search does not look into lists either
    if query.layer:
        rows = rows.filter(layer=query.layer)
    # Each (value, in a list) row counts distinct datasets per layer; any one of
    # them is a lower bound of the search's matches.
    per_key = rows.values("value", "in_list").annotate(n=Sum("datasets")).order_by()
    return max((row["n"] for row in per_key), default=0) > COUNT_LIMIT


def _text_counts_key(query: DatasetQuery, version: int) -> str | None:
    """The cache key of a text search's counts under ``version``; None for other searches.

    Only filters a sealed dataset cannot change are in it: an owner is named
    by email or username and a source by its slug, which may change without
    a new catalog version.
    """
    if not query.q or query.owner or query.source:
        return None
    parts = replace(query, list_fields=None, sort="")
    listed = sorted(query.list_fields) if query.list_fields is not None else None
    digest = hashlib.sha256(repr((parts, listed)).encode()).hexdigest()
    return f"catalog-text-counts:{TALLY_FORMAT}:{version}:{digest}"


def dataset_counts(*, query: DatasetQuery, version: int | None = None) -> MatchCounts:
    """The number of matches (exact, or COUNT_LIMIT when more) and the facet counts.

    ``version`` is the catalog version when the caller has read it already.
    A text search's counts are kept for its catalog version: two common words
    intersect posting lists of a tenth of the catalog each in the GIN index
    (some 10 ms at a million datasets), and every page of the search, in
    every sort, on the page and in the API, has the same counts.
    """
    if query.tally_only:
        return _from_tallies(query, catalog_version() if version is None else version)
    if _surely_more(query):
        return MatchCounts(COUNT_LIMIT, False)
    key = _text_counts_key(query, catalog_version() if version is None else version)
    counts = cache.get(key) if key else None
    if counts is None:
        counts = _from_matches(query)
        if key:
            cache.set(key, counts, TALLY_CACHE_SECONDS)
    return counts
