"""Provenance pages: lineage graph, and a dataset's exports (PROV-JSON, RO-Crate, BagIt)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from catalog.models import Dataset, DatasetStatus
from catalog.selectors import dataset_get
from lakeweb.access import browse_required

from .drawing import graph_svg
from .exports import bag, crate, prov
from .exports.names import export_filename
from .graph import MAX_DRAWN, provenance_graph
from .selectors import lineage, lineage_graph

GONE = "This dataset was deleted; its files are gone."


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
def dataset_ro_crate(request: HttpRequest, pk: str) -> StreamingHttpResponse:
    """The dataset as an RO-Crate zip, made while it is sent."""
    dataset = _ready(pk)
    return archive_response(
        crate.dataset_crate(dataset=dataset), export_filename(dataset, "ro-crate")
    )


@browse_required
def dataset_bagit(request: HttpRequest, pk: str) -> StreamingHttpResponse:
    """The dataset as a zipped BagIt bag, made while it is sent."""
    dataset = _ready(pk)
    return archive_response(bag.dataset_bag(dataset=dataset), export_filename(dataset, "bag"))


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
