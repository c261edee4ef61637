"""The catalog: search, filters, facets and pages of datasets."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from lakeweb.access import browse_required

from .. import selectors
from ..models import Layer, Source

PAGE_SIZE = 25


@browse_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    layer = request.GET.get("layer", "")
    source = request.GET.get("source", "")
    datasets = selectors.dataset_search(
        q=q, layer=layer if layer in Layer.values else "", source=source
    )
    page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "layer": layer,
        "source": source,
        "layers": Layer.values,
        "sources": Source.objects.all(),
    }
    return render(request, "catalog/dataset_list.html", context)
