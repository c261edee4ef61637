"""Pages of search results that stay fast however deep (SPEC §3 item 2).

Next and previous pages are reached by *keyset*: the link carries the sort
key of the last (or first) dataset shown, and the next page starts right
after it in the sort's index, so page 40,000 costs what page 2 costs.
Jumping straight to page N uses an offset over the index alone (ids first,
then the 25 rows), which PostgreSQL answers from an index-only scan. In date
order, when the tallies can count the matches (layer, source and form
filters), the tallies' datasets per month say in which month page N starts:
the offset then skips at most one month's datasets, not all pages before N.

Each dataset on a page carries ``tag_names``, read in one query.

Totals come from ``counts.py``: exact, or capped for broad searches.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from lakeweb.errors import BadInput
from lakeweb.text import text_unstorable

from ..models import Dataset
from .counts import MatchCounts, dataset_counts, dataset_months
from .search import RELEVANCE, SORTS, DatasetQuery, dataset_filter, dataset_ordered

PAGE_SIZE = 25
# Offsets smaller than this are cheap enough to skip in the index directly.
MONTH_JUMP_FROM = 2_500


class BadCursor(BadInput):
    """A page link that this catalog did not make (or made for another sort)."""


@dataclass(frozen=True)
class DatasetPage:
    items: list[Dataset]
    number: int
    total: int
    total_exact: bool
    order: str
    has_next: bool
    has_previous: bool
    # Keyset links; None where the page is reached by number (relevance order).
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # Relevance was asked for, but too many datasets match to rank: newest first.
    unranked: bool = False
    size: int = PAGE_SIZE

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.items) - 1 if self.items else 0


def _sort_value(dataset: Dataset, field: str) -> Any:
    value = getattr(dataset, field.lstrip("-"))
    return value.isoformat() if isinstance(value, datetime.datetime) else value


def cursor_encode(dataset: Dataset, order: str) -> str:
    key_field = SORTS[order][0]
    payload = json.dumps([order, _sort_value(dataset, key_field), str(dataset.pk)])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def cursor_decode(text: str, order: str) -> tuple[Any, uuid.UUID]:
    """The (sort value, id) a cursor points at; BadCursor when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        made_for, value, pk = json.loads(raw)
        pk = uuid.UUID(pk)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadCursor("This page link is damaged; go back to the first page.") from exc
    if made_for != order:
        raise BadCursor("This page link was made for another sort order.")
    try:
        return _sort_key(SORTS[order][0].lstrip("-"), value), pk
    except (TypeError, ValueError) as exc:
        raise BadCursor("This page link is damaged; go back to the first page.") from exc


# The largest value a sort key's column holds (a bigint; a name's max_length).
MAX_SIZE = 2**63 - 1
MAX_NAME = Dataset._meta.get_field("name").max_length or 255


def _sort_key(field: str, value: Any) -> Any:
    """A cursor's sort value as its column holds it; TypeError or ValueError when it cannot be."""
    if field == "created_at":
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError("a cursor's time has its offset")
        return moment
    if field == "total_size":
        if type(value) is not int or not 0 <= value <= MAX_SIZE:
            raise ValueError("a size is a whole number of bytes")
        return value
    if not isinstance(value, str) or len(value) > MAX_NAME or text_unstorable(value):
        raise ValueError("a name the catalog could hold")
    return value


def _beyond(order: str, value: Any, pk: uuid.UUID, *, forward: bool) -> Q:
    """Rows after (value, pk) in ``order`` (before it when not ``forward``).

    The plain bound on the key (``<=``/``>=``) is what lets the index start
    at the cursor; the OR only breaks ties among equal keys.
    """
    key, tie = SORTS[order]
    descending = key.startswith("-") == forward
    field, id_field = key.lstrip("-"), tie.lstrip("-")
    op = "lt" if descending else "gt"
    bound = Q(**{f"{field}__{op}e": value})
    return bound & (Q(**{f"{field}__{op}": value}) | Q(**{f"{id_field}__{op}": pk}))


def _reversed(order: str) -> tuple[str, ...]:
    return tuple(part[1:] if part.startswith("-") else f"-{part}" for part in SORTS[order])


# What a results page shows; the search columns and metadata stay on disk.
LIST_DEFERRED = ("search_text", "search_vector", "metadata", "manifest_digest")


def _rows(datasets: QuerySet[Dataset]) -> QuerySet[Dataset]:
    return datasets.select_related("source", "owner").defer(*LIST_DEFERRED)


def _with_tag_names(items: list[Dataset]) -> list[Dataset]:
    """Set ``tag_names`` on each dataset: one query of names, no Tag objects."""
    names: dict[uuid.UUID, list[str]] = defaultdict(list)
    pairs = Dataset.tags.through.objects.filter(dataset_id__in=[item.pk for item in items])
    for dataset_id, name in pairs.order_by("tag__name").values_list("dataset_id", "tag__name"):
        names[dataset_id].append(name)
    for item in items:
        item.tag_names = names[item.pk]  # type: ignore[attr-defined]  # a page attribute, not a field
    return items


def _month_start(month: datetime.date) -> datetime.datetime:
    """Midnight starting ``month`` in the catalog's time zone, as the tallies bucket it."""
    return timezone.make_aware(datetime.datetime.combine(month, datetime.time()))


def _month_jump(
    matched: QuerySet[Dataset], query: DatasetQuery, order: str, start: int, version: int | None
) -> tuple[QuerySet[Dataset], int]:
    """``matched`` from the month holding position ``start``, and the offset left in it."""
    months = dataset_months(query=query, version=version)
    newest_first = order == "newest"
    if newest_first:
        months = months[::-1]
    before = 0  # datasets in the months ahead of this one in ``order``
    for month, count in months:
        if start < before + count:
            if newest_first:
                following = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
                return matched.filter(created_at__lt=_month_start(following)), start - before
            return matched.filter(created_at__gte=_month_start(month)), start - before
        before += count
    return matched, start


def _offset_page(ordered: QuerySet[Dataset], start: int, size: int) -> tuple[list[Dataset], bool]:
    if start == 0:
        items = list(_rows(ordered)[: size + 1])
        return _with_tag_names(items[:size]), len(items) > size
    # Deep offsets: skip over index entries only, then read the page's rows.
    ids = list(ordered.values_list("pk", flat=True)[start : start + size + 1])
    rows = {row.pk: row for row in _rows(Dataset.objects.filter(pk__in=ids[:size]))}
    items = [rows[pk] for pk in ids[:size] if pk in rows]
    return _with_tag_names(items), len(ids) > size


def dataset_page(
    *,
    query: DatasetQuery,
    counts: MatchCounts | None = None,
    number: int = 1,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> DatasetPage:
    """One page of a search; ``after``/``before`` are cursors from a previous page.

    ``counts`` are the search's ``dataset_counts`` when the caller has them.
    """
    counts = counts or dataset_counts(query=query)
    total, exact = counts.total, counts.exact
    order = query.order
    unranked = order == RELEVANCE and not exact
    if unranked:
        order = "newest"  # ranking every one of a broad search's matches is not a page's work
    matched = dataset_filter(query=query)
    start = (number - 1) * size
    if exact and start >= total > 0 and not (after or before):
        # Past the last page: nothing to read (an offset there would skip every match).
        return DatasetPage(
            [], number, total, exact, order, False, True, unranked=unranked, size=size
        )
    if order == RELEVANCE:
        ordered = dataset_ordered(matched, query=query)
        items, more = _offset_page(ordered, start, size)
        return DatasetPage(items, number, total, exact, order, more, number > 1, size=size)
    if after or before:
        page = _keyset_page(matched, order, number, size, after=after, before=before)
    else:
        skip = start
        if start >= MONTH_JUMP_FROM and order in ("newest", "oldest") and query.tally_only:
            matched, skip = _month_jump(matched, query, order, start, counts.version)
        items, more = _offset_page(matched.order_by(*SORTS[order]), skip, size)
        page = _with_cursors(items, number, order, more_after=more, more_before=number > 1)
    return replace(page, total=total, total_exact=exact, unranked=unranked, size=size)


def _keyset_page(
    matched: QuerySet[Dataset],
    order: str,
    number: int,
    size: int,
    *,
    after: str,
    before: str,
) -> DatasetPage:
    value, pk = cursor_decode(after or before, order)
    forward = bool(after)
    beyond = matched.filter(_beyond(order, value, pk, forward=forward))
    ordering = SORTS[order] if forward else _reversed(order)
    rows = _with_tag_names(list(_rows(beyond.order_by(*ordering))[: size + 1]))
    more = len(rows) > size
    if forward:
        return _with_cursors(rows[:size], number, order, more_after=more, more_before=True)
    items = list(reversed(rows[:size]))
    return _with_cursors(items, number, order, more_after=True, more_before=more)


def _with_cursors(
    items: list[Dataset],
    number: int,
    order: str,
    *,
    more_after: bool,
    more_before: bool,
) -> DatasetPage:
    has_next, has_previous = bool(items) and more_after, bool(items) and more_before
    return DatasetPage(
        items,
        number,
        total=0,
        total_exact=True,
        order=order,
        has_next=has_next,
        has_previous=has_previous or (not items and number > 1),
        next_cursor=cursor_encode(items[-1], order) if has_next else None,
        previous_cursor=cursor_encode(items[0], order) if has_previous else None,
    )
