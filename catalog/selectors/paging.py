"""Pages of search results that stay fast however deep (SPEC §3 item 2).

Next and previous pages are reached by *keyset*: the link carries the sort
key of the last (or first) dataset shown, and the next page starts right
after it in the sort's index, so page 40,000 costs what page 2 costs.
Jumping straight to page N uses an offset over the index alone (ids first,
then the 25 rows), which PostgreSQL answers from an index-only scan.

Counting every match of a broad search costs a scan of all of them, so
totals come from the tallies when the filters allow, and otherwise stop at
``COUNT_LIMIT`` ("more than 10,000"), the way search engines do.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from django.db.models import Q, QuerySet, Sum

from ..models import Dataset, DatasetTally
from .search import RELEVANCE, SORTS, DatasetQuery, dataset_filter, dataset_ordered

PAGE_SIZE = 25
COUNT_LIMIT = 10_000


class BadCursor(ValueError):
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

    @property
    def first_index(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.items else 0

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
    key_field = SORTS[order][0].lstrip("-")
    try:
        if key_field == "created_at":
            value = datetime.datetime.fromisoformat(value)
        elif key_field == "total_size":
            value = int(value)
        elif not isinstance(value, str):
            raise TypeError
    except (TypeError, ValueError) as exc:
        raise BadCursor("This page link is damaged; go back to the first page.") from exc
    return value, pk


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


def tally_count(query: DatasetQuery) -> int:
    """Exact number of ready datasets for a layer/source/form-only query."""
    rows = DatasetTally.objects.all()
    if query.layer:
        rows = rows.filter(layer=query.layer)
    if query.source:
        rows = rows.filter(source__slug=query.source)
    if query.form:
        rows = rows.filter(form_id=query.form)
    return rows.aggregate(n=Sum("datasets"))["n"] or 0


def dataset_count(query: DatasetQuery) -> tuple[int, bool]:
    """(number of matches, exact?): the tallies, or a count that stops at COUNT_LIMIT."""
    if query.tally_only:
        return tally_count(query), True
    found = dataset_filter(query=query).values("pk")[: COUNT_LIMIT + 1].count()
    return min(found, COUNT_LIMIT), found <= COUNT_LIMIT


def _rows(datasets: QuerySet[Dataset]) -> QuerySet[Dataset]:
    return datasets.select_related("source", "owner").prefetch_related("tags")


def _offset_page(ordered: QuerySet[Dataset], number: int) -> tuple[list[Dataset], bool]:
    start = (number - 1) * PAGE_SIZE
    if start == 0:
        items = list(_rows(ordered)[: PAGE_SIZE + 1])
        return items[:PAGE_SIZE], len(items) > PAGE_SIZE
    # Deep offsets: skip over index entries only, then read the 25 rows.
    ids = list(ordered.values_list("pk", flat=True)[start : start + PAGE_SIZE + 1])
    rows = {row.pk: row for row in _rows(Dataset.objects.filter(pk__in=ids[:PAGE_SIZE]))}
    return [rows[pk] for pk in ids[:PAGE_SIZE] if pk in rows], len(ids) > PAGE_SIZE


def dataset_page(
    *, query: DatasetQuery, number: int = 1, after: str = "", before: str = ""
) -> DatasetPage:
    """One page of a search; ``after``/``before`` are cursors from a previous page."""
    total, exact = dataset_count(query)
    order = query.order
    unranked = order == RELEVANCE and not exact
    if unranked:
        order = "newest"  # ranking every one of >10,000 matches is not a page's work
    matched = dataset_filter(query=query)
    if order == RELEVANCE:
        ordered = dataset_ordered(matched, query=query)
        items, more = _offset_page(ordered, number)
        return DatasetPage(items, number, total, exact, order, more, number > 1)
    if after or before:
        page = _keyset_page(matched, order, number, after=after, before=before)
    else:
        items, more = _offset_page(matched.order_by(*SORTS[order]), number)
        page = _with_cursors(items, number, order, more_after=more, more_before=number > 1)
    return replace(page, total=total, total_exact=exact, unranked=unranked)


def _keyset_page(
    matched: QuerySet[Dataset],
    order: str,
    number: int,
    *,
    after: str,
    before: str,
) -> DatasetPage:
    value, pk = cursor_decode(after or before, order)
    forward = bool(after)
    beyond = matched.filter(_beyond(order, value, pk, forward=forward))
    ordering = SORTS[order] if forward else _reversed(order)
    rows = list(_rows(beyond.order_by(*ordering))[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    if forward:
        return _with_cursors(rows[:PAGE_SIZE], number, order, more_after=more, more_before=True)
    items = list(reversed(rows[:PAGE_SIZE]))
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
