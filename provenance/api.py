"""Provenance API: a dataset's lineage, its graph and its exports (SPEC §3 item 6, issue 13)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Dataset
from catalog.selectors import dataset_get_ready, dataset_readable_check
from lakeweb.api import CanBrowse
from lakeweb.api_docs import errors

from .exports import bag, crate, prov
from .exports.names import export_filename
from .selectors import lineage, lineage_graph
from .views import archive_response


class NodeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    layer = serializers.CharField()


class GraphNodeSerializer(NodeSerializer):
    status = serializers.CharField()


class EdgeSerializer(serializers.Serializer):
    parent = serializers.UUIDField()
    child = serializers.UUIDField()


def _node(dataset: Dataset) -> dict[str, Any]:
    return {"id": dataset.pk, "name": dataset.name, "layer": dataset.layer}


class DatasetLineage(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None

    @extend_schema(
        summary="The chain of datasets back to the first ancestor, oldest first",
        responses={200: NodeSerializer(many=True), **errors(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        chain = lineage(dataset=dataset_get_ready(pk=pk))
        return Response(NodeSerializer([_node(item) for item in chain], many=True).data)


class DatasetGraph(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None

    @extend_schema(
        summary="Ancestors and descendants as nodes and parent -> child edges",
        responses={
            200: inline_serializer(
                "LineageGraph",
                {"nodes": GraphNodeSerializer(many=True), "edges": EdgeSerializer(many=True)},
            ),
            **errors(401, 403, 404),
        },
    )
    def get(self, request: Request, pk: Any) -> Response:
        graph = lineage_graph(dataset=dataset_get_ready(pk=pk))
        nodes = [{**_node(node), "status": node.status} for node in graph["nodes"]]
        edges = [{"parent": parent, "child": child} for parent, child in graph["edges"]]
        return Response(
            {
                "nodes": GraphNodeSerializer(nodes, many=True).data,
                "edges": EdgeSerializer(edges, many=True).data,
            }
        )


# -- exports --------------------------------------------------------------------


class ZipRenderer(renderers.BaseRenderer):
    """Lets a client that asks for ``application/zip`` only still get errors, as JSON text."""

    media_type = "application/zip"
    format = "zip"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return renderers.JSONRenderer().render(data)


# Two renderers make drf-spectacular offer ?format=; the API does not (a zip is the only answer).
NO_FORMAT = [OpenApiParameter("format", exclude=True)]
ZIP_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.BINARY,
    description="A zip streamed as it is made; it breaks off (incomplete) if a stored file "
    "no longer matches its recorded SHA-256.",
)


def _readable(pk: Any) -> Dataset:
    """A ready dataset whose files read now; a cold one is refused before any byte (409)."""
    dataset = dataset_get_ready(pk=pk)
    dataset_readable_check(dataset=dataset)
    return dataset


COLD_409 = (
    "409 (before any byte) while the dataset's files are in the archive's cold storage "
    "and not restored; the message names the storage class and any restore under way."
)


class DatasetProvJson(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None

    @extend_schema(
        summary="The dataset's lineage as W3C PROV-JSON (read back by the prov package)",
        responses={
            (200, "application/json"): OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="PROV-JSON: entities (datasets), activities (every recorded event, "
                "with its parameters), agents and their relations.",
            ),
            **errors(401, 403, 404),
        },
    )
    def get(self, request: Request, pk: Any) -> HttpResponse:
        document = prov.prov_json(dataset=dataset_get_ready(pk=pk))
        return HttpResponse(document, content_type="application/json")


class DatasetRoCrate(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None
    renderer_classes = [renderers.JSONRenderer, ZipRenderer]

    @extend_schema(
        summary="The dataset as an RO-Crate 1.1 zip (Process Run Crate when a process made it)",
        description=COLD_409,
        parameters=NO_FORMAT,
        responses={(200, "application/zip"): ZIP_RESPONSE, **errors(401, 403, 404, 409)},
    )
    def get(self, request: Request, pk: Any) -> StreamingHttpResponse:
        dataset = _readable(pk)
        return archive_response(
            crate.dataset_crate(dataset=dataset), export_filename(dataset, "ro-crate")
        )


class DatasetBag(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None
    renderer_classes = [renderers.JSONRenderer, ZipRenderer]

    @extend_schema(
        summary="The dataset as a BagIt bag (RFC 8493) in a zip",
        description=COLD_409,
        parameters=NO_FORMAT,
        responses={(200, "application/zip"): ZIP_RESPONSE, **errors(401, 403, 404, 409)},
    )
    def get(self, request: Request, pk: Any) -> StreamingHttpResponse:
        dataset = _readable(pk)
        return archive_response(bag.dataset_bag(dataset=dataset), export_filename(dataset, "bag"))
