"""The catalog: search, filters, facets and pages of datasets (SPEC §3 item 2)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lakeweb.access import browse_required

from .. import selectors
from ..forms import DatasetSearchForm
from ..models import Layer
from ..selectors.paging import BadCursor
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
    context = {
        "form": form,
        "layers": Layer.values,
        "sorts": SORT_LABELS,
        "forms": selectors.metadata_forms_all(),
    }
    if not form.is_valid():
        context["errors"] = form.error_messages()
        return render(request, "catalog/dataset_list.html", context, status=400)
    query = form.query()
    data = form.cleaned_data
    counts = selectors.dataset_counts(query=query)
    try:
        page = selectors.dataset_page(
            query=query,
            counts=counts,
            number=data["page"] or 1,
            after=data["after"],
            before=data["before"],
        )
    except BadCursor as exc:
        context["errors"] = [str(exc)]
        return render(request, "catalog/dataset_list.html", context, status=400)
    context |= {
        "query": query,
        "page": page,
        "facets": selectors.dataset_facets(query=query, counts=counts),
        "advanced": bool(
            query.tags
            or query.form
            or query.owner
            or query.fields
            or query.created_from
            or query.created_to
        ),
    }
    return render(request, "catalog/dataset_list.html", context)
