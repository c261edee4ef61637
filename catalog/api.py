"""Catalog API: search, detail, files, downloads, promote, delete, stats (SPEC §3 item 6).

Each view validates its input and calls one selector or service; refusals
(``ActionRefused``/``PermissionRefused``) become 409/403 in ``lakeweb.api``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from lakeweb.api import CanBrowse

from . import selectors, services
from .models import DataFile, Dataset, DatasetStatus
from .serializers import (
    DataFileSerializer,
    DatasetDetailSerializer,
    DatasetQuerySerializer,
    DatasetSerializer,
    DownloadSerializer,
    PromoteSerializer,
    PromotionSerializer,
)
from .stats import catalog_stats

NO_DATASET = "No ready dataset with this id."


def ready_dataset(pk: Any) -> Dataset:
    """The ready dataset ``pk`` or a JSON 404 (tombstones and unfinished uploads too)."""
    try:
        dataset = selectors.dataset_get(pk=pk)
    except Dataset.DoesNotExist:
        raise NotFound(NO_DATASET) from None
    if dataset.status != DatasetStatus.READY:
        raise NotFound(NO_DATASET)
    return dataset


class DatasetList(generics.ListAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DatasetSerializer

    @extend_schema(
        summary="List and search ready datasets, newest first",
        parameters=[DatasetQuerySerializer],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Dataset]:
        query = DatasetQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.dataset_search(**query.validated_data).prefetch_related("tags")


class DatasetDetail(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DatasetDetailSerializer

    @extend_schema(summary="One dataset: metadata, tags, counts, manifest digest, form version")
    def get(self, request: Request, pk: Any) -> Response:
        return Response(self.get_serializer(ready_dataset(pk)).data)

    @extend_schema(
        summary="Delete a dataset outside raw (curators); raw is refused with 409",
        responses={204: None},
    )
    def delete(self, request: Request, pk: Any) -> Response:
        services.dataset_delete(dataset=ready_dataset(pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetFiles(generics.ListAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DataFileSerializer

    @extend_schema(summary="The files of a dataset: path, size, SHA-256, content type")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[DataFile]:
        return ready_dataset(self.kwargs["pk"]).files.order_by("path")


class DatafileDownload(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DownloadSerializer

    @extend_schema(summary="Where to download one file (a presigned URL on S3)")
    def get(self, request: Request, pk: Any, file_id: int) -> Response:
        dataset = ready_dataset(pk)
        datafile = dataset.files.filter(pk=file_id).first()
        if datafile is None:
            raise NotFound("This dataset has no file with this id.")
        download = selectors.datafile_download(datafile=datafile)
        if download.stream is not None:
            download.stream.close()  # folder storage: the page serves the bytes
        url = download.url or self._page_url(datafile)
        return Response({"url": url, "presigned": bool(download.url)})

    def _page_url(self, datafile: DataFile) -> str:
        path = reverse(
            "catalog:datafile_download", kwargs={"pk": datafile.dataset_id, "file_id": datafile.pk}
        )
        return self.request.build_absolute_uri(path)


class DatasetPromote(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = PromoteSerializer

    @extend_schema(
        summary="Queue a promotion to the adjacent next layer",
        responses={202: PromotionSerializer},
    )
    def post(self, request: Request, pk: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        promotion = services.dataset_promote_request(
            dataset=ready_dataset(pk),
            user=request.user,
            target_layer=body.validated_data.get("target_layer"),
        )
        return Response(PromotionSerializer(promotion).data, status=status.HTTP_202_ACCEPTED)


class Stats(generics.GenericAPIView):
    permission_classes = [CanBrowse]

    @extend_schema(
        summary="Ready datasets per layer and bytes per source",
        responses=inline_serializer(
            "Stats",
            {
                "datasets_per_layer": serializers.DictField(child=serializers.IntegerField()),
                "bytes_per_source": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(catalog_stats())
