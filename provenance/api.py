"""Provenance API: a dataset's lineage and its graph (SPEC §3 item 6)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Dataset
from catalog.selectors import dataset_get_ready
from lakeweb.api import CanBrowse
from lakeweb.api_docs import errors

from .selectors import lineage, lineage_graph


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
