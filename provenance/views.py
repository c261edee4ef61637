"""Provenance pages: lineage graph and PROV-JSON export of a dataset."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from catalog.selectors import dataset_get
from lakeweb.access import browse_required

from .selectors import lineage, lineage_graph, prov_document


@browse_required
def dataset_lineage(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = dataset_get(pk=pk)
    context = {
        "dataset": dataset,
        "chain": lineage(dataset=dataset),
        "graph": lineage_graph(dataset=dataset),
    }
    return render(request, "provenance/lineage.html", context)


@browse_required
def dataset_prov_json(request: HttpRequest, pk: str) -> HttpResponse:
    response = JsonResponse(
        prov_document(dataset=dataset_get(pk=pk)), json_dumps_params={"indent": 1}
    )
    response["Content-Disposition"] = f'attachment; filename="prov-{pk}.json"'
    return response
