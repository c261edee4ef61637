"""The catalog: search, filters, facets and pages of datasets (SPEC §3 item 2)."""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from lakeweb.access import browse_required
from lakeweb.errors import refusal_of

from .. import selectors
from ..forms import DatasetSearchForm
from ..models import Layer
from ..selectors.paging import BadCursor
from ..selectors.results import results_cached
from ..selectors.search import RELEVANCE, SORTS

SORT_LABELS = {
    RELEVANCE: "Best match",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "name": "Name A to Z",
    "-name": "Name Z to A",
    "largest": "Largest first",
    "smallest": "Smallest first",
}
assert set(SORT_LABELS) == {RELEVANCE, *SORTS}


@browse_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    form = DatasetSearchForm(request.GET)
    if not form.is_valid():
        return _page(request, _search(request, form, errors=form.error_messages()), status=400)
    version = selectors.catalog_version()
    try:
        # The rendered form and results: only the heading is rendered for each request.
        search = results_cached(
            kind="search",
            version=version,
            address=request.get_full_path(),
            make=lambda: _search(request, form, results=_results(request, form, version)),
        )
    except BadCursor as exc:
        status, problems = refusal_of(exc)
        return _page(request, _search(request, form, errors=problems), status=status)
    return _page(request, search)


def _page(request: HttpRequest, search: str, *, status: int = 200) -> HttpResponse:
    # Only the heading (what this user may do) is rendered for each request.
    return render(request, "catalog/dataset_list.html", {"search": search}, status=status)


def _search(
    request: HttpRequest, form: DatasetSearchForm, *, results: str = "", errors: Sequence[str] = ()
) -> str:
    """The search form with its results (or what is wrong with the query)."""
    context = {
        "form": form,
        "layers": Layer.values,
        "sorts": SORT_LABELS,
        "forms": selectors.metadata_forms_all().values("pk", "name"),
        "results": results,
        "errors": errors,
        "advanced": not errors and _advanced(form.query()),
    }
    return render_to_string("catalog/_search.html", context, request)


def _results(request: HttpRequest, form: DatasetSearchForm, version: int) -> str:
    query = form.query()
    counts = selectors.dataset_counts(query=query, version=version)
    page = selectors.dataset_page(query=query, counts=counts, **form.paging())
    context = {
        "query": query,
        "page": page,
        "facets": selectors.dataset_facets(query=query, counts=counts),
    }
    return render_to_string("catalog/_results.html", context, request)


def _advanced(query: selectors.DatasetQuery) -> bool:
    """Whether the "More filters" part starts open."""
    return bool(
        query.tags
        or query.form
        or query.owner
        or query.fields
        or query.created_from
        or query.created_to
    )
