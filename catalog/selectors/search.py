"""Catalog search: the filters of a query, turned into one indexed queryset (SPEC §3 item 2).

On PostgreSQL, text goes through ``search_vector`` (a GIN-indexed tsvector
written at sealing, see ``services/indexing.py``) and ``field = value``
through ``metadata @> …`` (a GIN ``jsonb_path_ops`` index). Other databases
(the embedded SQLite) fall back to substring matching and ``json_each``:
slower, but the same answers for the words and values people type.

A hyphenated word ("time-lapse") is parsed by PostgreSQL into the compound
and its parts, and a query asks for them as a phrase. GIN cannot check a
phrase, so every candidate row would be read again; the compound alone
matches exactly the same datasets, so ``text_query`` asks for that.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet
from django.utils import timezone

from lakeweb.errors import BadInput

from ..metadata import yes_no
from ..models import Dataset, DatasetStatus

# Sort orders a user can choose; each maps to an index led by status.
SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "largest": ("-total_size", "-id"),
    "smallest": ("total_size", "id"),
}
RELEVANCE = "relevance"
# Only this many words of a query are searched: a pasted paragraph is not a query.
MAX_TERMS = 16
# Numbers a field = value search looks for: |n| < 10**18 (within a signed 64-bit
# integer), and no fraction finer than 1e-300 (a float would make it 0).
NUMBER_DIGITS = 18
NUMBER_DECIMALS = 300


@dataclass(frozen=True)
class DatasetQuery:
    """What a catalog search asks for; every part is optional.

    Values are already checked (``catalog.forms.DatasetSearchForm``): layers
    and sources exist, ``fields`` are known metadata field names.
    """

    q: str = ""
    layer: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    form: int | None = None
    # The owner's email or username, as typed.
    owner: str = ""
    created_from: datetime.date | None = None
    created_to: datetime.date | None = None
    fields: tuple[tuple[str, str], ...] = ()
    # Field names some form makes multiple choice (values are lists); None: unknown.
    list_fields: frozenset[str] | None = None
    sort: str = ""
    include_deleted: bool = False

    @property
    def order(self) -> str:
        """The sort in effect: relevance for a text search unless another was chosen."""
        if self.sort:
            return self.sort
        return RELEVANCE if self.q else "newest"

    @property
    def tally_only(self) -> bool:
        """True when the tallies alone can count the matches (layer, source, form filters)."""
        return not (
            self.q
            or self.tags
            or self.owner
            or self.created_from
            or self.created_to
            or self.fields
            or self.include_deleted
        )


def _postgres() -> bool:
    return connection.vendor == "postgresql"


class _ParsedQuery(SearchQuery):
    """A tsquery in PostgreSQL's text form, already parsed: cast, not parsed again."""

    template = "(%(expressions)s)::tsquery"


# 'time-lapse' <-> 'time' <-> 'lapse': a compound and its parts, when it is a
# whole phrase (a longer phrase counts positions, so its parts must stay).
_LEXEME = r"'(?:[^']|'')+'"
_COMPOUND_PHRASE = re.compile(rf"(?<!> )({_LEXEME})((?: <-> {_LEXEME})+)(?! <)")


def _compound_only(match: re.Match[str]) -> str:
    compound = match.group(1)[1:-1]
    parts = [part[1:-1] for part in re.findall(_LEXEME, match.group(2))]
    return match.group(1) if "-".join(parts) == compound else match.group(0)


@functools.lru_cache(maxsize=1024)
def _tsquery_text(config: str, terms: str) -> str:
    """``terms`` in web-search syntax, parsed by PostgreSQL, hyphenated words as compounds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT websearch_to_tsquery(%s::regconfig, %s)::text", [config, terms])
        text = cursor.fetchone()[0]
    return _COMPOUND_PHRASE.sub(_compound_only, text)


def text_query(q: str) -> SearchQuery:
    """Web-search syntax: words (all must match), "a phrase", or, -excluded."""
    terms = " ".join(q.split()[:MAX_TERMS])
    return _ParsedQuery(_tsquery_text(settings.LAKEWEB_SEARCH_CONFIG, terms))


def _text_filter(datasets: QuerySet[Dataset], q: str) -> QuerySet[Dataset]:
    if _postgres():
        return datasets.filter(search_vector=text_query(q))
    for term in q.lower().split()[:MAX_TERMS]:
        term = term.strip('"')
        if term.startswith("-") and len(term) > 1:
            datasets = datasets.exclude(search_text__contains=term[1:])
        elif term and term != "or":
            datasets = datasets.filter(search_text__contains=term)
    return datasets


class NumberOutOfRange(BadInput):
    """A searched value reads as a number no stored metadata can hold."""


def value_number(value: str) -> int | float | None:
    """The number a typed value means, None when it is no (finite) number.

    Bounded before it is built: "1e999999" is a short text but a million-digit
    integer, which held a core for 40 s. Integers fit SQLite's 64 bits and
    PostgreSQL's bigint; a fraction smaller than 1e-300 would round to 0.
    """
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if number and number.adjusted() >= NUMBER_DIGITS:
        raise NumberOutOfRange(
            f"'{value[:40]}' is too large a number to search for: "
            f"at most {NUMBER_DIGITS} digits before the point."
        )
    if number and number.adjusted() < -NUMBER_DECIMALS:
        raise NumberOutOfRange(
            f"'{value[:40]}' is too small a number to search for: "
            f"0, or at least 1e-{NUMBER_DECIMALS}."
        )
    return int(number) if number == number.to_integral_value() else float(number)


def value_candidates(value: str) -> list[Any]:
    """The JSON values a typed ``field = value`` can mean: text, a number, yes/no.

    A number beyond what the search can look for (``value_number``) is no
    stored number either: such a value (a 30-digit barcode) is looked for as
    text only. The search form refuses it for a field only numbers fill.
    """
    candidates: list[Any] = [value]
    try:
        number = value_number(value)
    except NumberOutOfRange:
        number = None
    if number is not None:
        candidates.append(number)
    answer = yes_no(value)
    if answer is not None:
        candidates.append(answer)
    return candidates


def _field_filter_postgres(name: str, value: str, *, listed: bool) -> Q:
    # Each candidate is one containment test the GIN index answers; lists
    # (multiple choice) contain the value as an element. The index cannot tell
    # a list from a scalar, so the list test is made only for list fields.
    condition = Q()
    for candidate in value_candidates(value):
        condition |= Q(metadata__contains={name: candidate})
        condition |= Q(metadata__contains={"experiments": [{name: candidate}]})
        if listed:
            condition |= Q(metadata__contains={"experiments": [{name: [candidate]}]})
    return condition


class _JsonFieldMatch(Func):
    """SQLite: a top-level key or an experiment's field (scalar or list) equals a candidate.

    A Func over the metadata column rather than raw SQL naming the table, so
    that it still points at the right table inside subqueries.
    """

    output_field = BooleanField()

    def __init__(self, name: str, candidates: list[Any]) -> None:
        super().__init__(F("metadata"))
        self.path = f'$."{name}"'  # name is a checked slug: no quote can reach the path
        self.candidates = [int(c) if isinstance(c, bool) else c for c in candidates]

    # The stubs want params as a tuple and function/template arguments; Django takes a
    # list, and this Func has no function or template to override.
    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        column, column_params = compiler.compile(self.source_expressions[0])
        # Only the compiled column and placeholders are formatted in; values are parameters.
        marks = ", ".join(["%s"] * len(self.candidates))
        sql = (
            f"(EXISTS (SELECT 1 FROM json_each({column}, '$.experiments') e, "  # noqa: S608
            f"json_each(e.value, %s) v WHERE v.value IN ({marks})) "
            f"OR json_extract({column}, %s) IN ({marks}))"
        )
        params = [*column_params, self.path, *self.candidates]
        return sql, [*params, *column_params, self.path, *self.candidates]


def _field_filter_sqlite(name: str, value: str) -> Q:
    return Q(_JsonFieldMatch(name, value_candidates(value)))


def _date_bounds(query: DatasetQuery) -> Q:
    # The first and last days a date can name bound nothing, and the bounds of
    # those days cannot be written as datetimes in every time zone.
    condition = Q()
    zone = timezone.get_current_timezone()
    if query.created_from and query.created_from > datetime.date.min:
        start = datetime.datetime.combine(query.created_from, datetime.time.min, zone)
        condition &= Q(created_at__gte=start)
    if query.created_to and query.created_to < datetime.date.max:
        day_after = query.created_to + datetime.timedelta(days=1)
        condition &= Q(created_at__lt=datetime.datetime.combine(day_after, datetime.time.min, zone))
    return condition


def _owner_ids(text: str) -> QuerySet[Any, Any]:
    """The account ``text`` names (email, any case, or username) as a subquery.

    A name no account has matches no dataset, as an account without datasets
    does: whether an account exists is not for every browsing user to learn.
    """
    user_model = get_user_model()
    lookup = Q(email__iexact=text) | Q(**{user_model.USERNAME_FIELD: text})
    return user_model.objects.filter(lookup).order_by("pk").values("pk")[:1]


def _tag_filter(datasets: QuerySet[Dataset], names: tuple[str, ...]) -> QuerySet[Dataset]:
    through = Dataset.tags.through
    for name in names:
        tagged = through.objects.filter(dataset_id=OuterRef("pk"), tag__name=name)
        datasets = datasets.filter(Exists(tagged))
    return datasets


def dataset_filter(*, query: DatasetQuery) -> QuerySet[Dataset]:
    """Datasets matching every filter of ``query``, unordered."""
    datasets = Dataset.objects.filter(status=DatasetStatus.READY)
    if query.include_deleted:
        datasets = Dataset.objects.filter(status__in=[DatasetStatus.READY, DatasetStatus.DELETED])
    if query.layer:
        datasets = datasets.filter(layer=query.layer)
    if query.source:
        datasets = datasets.filter(source__slug=query.source)
    if query.form:
        datasets = datasets.filter(form_version__form_id=query.form)
    if query.owner:
        datasets = datasets.filter(owner_id__in=_owner_ids(query.owner))
    datasets = datasets.filter(_date_bounds(query))
    datasets = _tag_filter(datasets, query.tags)
    for name, value in query.fields:
        if _postgres():
            listed = query.list_fields is None or name in query.list_fields
            datasets = datasets.filter(_field_filter_postgres(name, value, listed=listed))
        else:
            datasets = datasets.filter(_field_filter_sqlite(name, value))
    if query.q:
        datasets = _text_filter(datasets, query.q)
    return datasets.order_by()


def dataset_ordered(datasets: QuerySet[Dataset], *, query: DatasetQuery) -> QuerySet[Dataset]:
    """``datasets`` in the query's order; relevance falls back to newest off PostgreSQL."""
    order = query.order
    if order == RELEVANCE:
        if not _postgres():
            return datasets.order_by(*SORTS["newest"])
        rank = SearchRank(F("search_vector"), text_query(query.q))
        return datasets.annotate(rank=rank).order_by("-rank", "-created_at", "-id")
    return datasets.order_by(*SORTS[order])
