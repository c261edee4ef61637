"""Provenance pages: lineage graph, and a dataset's exports (PROV-JSON, RO-Crate, BagIt)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from catalog.models import Dataset, DatasetStatus
from catalog.selectors import ColdRefused, dataset_cold_state, dataset_get, dataset_readable_check
from lakeweb.access import browse_required

from .drawing import graph_svg
from .exports import bag, crate, prov
from .exports.names import export_filename
from .graph import MAX_DRAWN, provenance_graph
from .selectors import lineage, lineage_graph

GONE = "This dataset was deleted; its files are gone."
EXPORT_NAMES = {"ro-crate": "RO-Crate", "bag": "BagIt bag"}


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
    """The lineage as W3C PROV-JSON that the ``prov`` package reads back."""
    response = HttpResponse(
        prov.prov_json(dataset=dataset_get(pk=pk)), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="prov-{pk}.json"'
    return response


@browse_required
def dataset_ro_crate(request: HttpRequest, pk: str) -> HttpResponseBase:
    """The dataset as an RO-Crate zip, made while it is sent."""
    return _export(request, pk, crate.dataset_crate, "ro-crate")


@browse_required
def dataset_bagit(request: HttpRequest, pk: str) -> HttpResponseBase:
    """The dataset as a zipped BagIt bag, made while it is sent."""
    return _export(request, pk, bag.dataset_bag, "bag")


def _export(
    request: HttpRequest, pk: str, make: Callable[..., Iterator[bytes]], kind: str
) -> HttpResponseBase:
    """A zip of a ready dataset's files; a cold one is refused before the first byte (409)."""
    dataset = _ready(pk)
    try:
        dataset_readable_check(dataset=dataset)
    except ColdRefused as exc:
        context = {
            "dataset": dataset,
            "export": EXPORT_NAMES[kind],
            "message": str(exc),
            "cold": dataset_cold_state(dataset=dataset, user=request.user),
        }
        return render(request, "provenance/export_refused.html", context, status=exc.status)
    return archive_response(make(dataset=dataset), export_filename(dataset, kind))


def _ready(pk: str) -> Dataset:
    dataset = dataset_get(pk=pk)
    if dataset.status != DatasetStatus.READY:
        raise Http404(GONE)
    return dataset


def archive_response(pieces: Iterator[bytes], filename: str) -> StreamingHttpResponse:
    """A zip streamed as it is made, as the catalog's zip download sends it."""
    response = StreamingHttpResponse(pieces, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    # A proxy that buffered the whole archive would undo the constant memory.
    response["X-Accel-Buffering"] = "no"
    return response


@browse_required
def dataset_graph(request: HttpRequest, pk: str) -> HttpResponse:
    """The drawn graph of a dataset's ancestors and descendants (server-side SVG)."""
    dataset = dataset_get(pk=pk)
    graph = provenance_graph(dataset=dataset)
    context = {
        "dataset": dataset,
        "graph": graph,
        "svg": graph_svg(graph=graph, title=f"Provenance graph of {dataset.name}"),
        "max_drawn": MAX_DRAWN,
    }
    return render(request, "provenance/graph.html", context)
