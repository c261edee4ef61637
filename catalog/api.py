"""Catalog API: search, detail, files, downloads, promote, delete, register, stats (SPEC §3.6).

Each view validates its input and calls one selector or service; refusals
(``lakeweb.errors``) get their HTTP status in ``lakeweb.api``.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from lakeweb.api import CanBrowse
from lakeweb.api_docs import errors as error_responses
from lakeweb.api_parsers import JSONBodyParser

from . import selectors, services
from .forms import DatasetSearchForm
from .models import DataFile, Dataset
from .selectors.results import results_cached
from .serializers import (
    REPEATED_QUERY_PARAMETERS,
    ColdRestoreSerializer,
    DataFileSerializer,
    DatasetDetailSerializer,
    DatasetPageSerializer,
    DatasetQuerySerializer,
    DatasetRegisterSerializer,
    DatasetSerializer,
    DatasetStatusSerializer,
    DownloadSerializer,
    PromoteSerializer,
    PromotionSerializer,
)
from .stats import catalog_stats

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 50, 200


class DatasetList(generics.GenericAPIView):
    """The catalog's search, with the page's filters, counts and keyset pages."""

    permission_classes = [CanBrowse]
    serializer_class = DatasetSerializer
    pagination_class = None

    @extend_schema(
        operation_id="datasets_list",
        summary="List and search ready datasets (the catalog page's filters and sorts)",
        parameters=[DatasetQuerySerializer, *REPEATED_QUERY_PARAMETERS],
        responses={200: DatasetPageSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        _refuse_empty(request.query_params)
        form = DatasetSearchForm(request.query_params)
        size = _page_size(request.query_params.get("page_size"))
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): list(messages)
                    for name, messages in form.errors.items()
                }
            )
        version = selectors.catalog_version()
        try:
            body = results_cached(
                kind="api-list",
                version=version,
                address=request.build_absolute_uri(),
                make=lambda: self._body(form, size, version),
            )
        except selectors.BadCursor as exc:
            raise serializers.ValidationError({"after": [str(exc)]}) from None
        return Response(body)

    def _body(self, form: DatasetSearchForm, size: int, version: int) -> dict[str, Any]:
        """The page of results, its counts and links: the same for every browsing user."""
        query = form.query()
        counts = selectors.dataset_counts(query=query, version=version)
        page = selectors.dataset_page(query=query, counts=counts, size=size, **form.paging())
        return {
            "count": page.total,
            "count_exact": page.total_exact,
            "order": page.order,
            "next": self._link(page, forward=True),
            "previous": self._link(page, forward=False),
            # Plain dicts for the cache (DRF's list would pickle its serializer and request).
            "results": [dict(row) for row in self.get_serializer(page.items, many=True).data],
        }

    def _link(self, page: selectors.DatasetPage, *, forward: bool) -> str | None:
        if not (page.has_next if forward else page.has_previous):
            return None
        params = self.request.query_params.copy()
        for key in ("after", "before", "page"):
            params.pop(key, None)
        params["page"] = str(page.number + 1 if forward else max(page.number - 1, 1))
        cursor = page.next_cursor if forward else page.previous_cursor
        if cursor:
            params["after" if forward else "before"] = cursor
        return self.request.build_absolute_uri(f"{self.request.path}?{params.urlencode()}")


# The list's parameters: an empty value is none of the numbers, dates, choices or
# names the schema gives them. (The page's own form sends empty fields, and
# ignores them.)
PARAMETERS = (
    "q", "layer", "source", "tags", "form", "owner", "created_from", "created_to", "field",
    "sort", "page", "after", "before", "page_size",
)  # fmt: skip
WHOLE_NUMBER = re.compile(r"(-?)0*([0-9]+)")


def _refuse_empty(params: QueryDict) -> None:
    empty = [
        name for name in PARAMETERS if any(not value.strip() for value in params.getlist(name))
    ]
    if empty:
        raise serializers.ValidationError(
            {name: ["Give a value, or leave the parameter out."] for name in empty}
        )


def _page_size(raw: str | None) -> int:
    """``page_size``: 50 by default, at most 200 (larger asks are capped, not refused).

    The digits are bounded before they make a number.
    """
    if raw is None:
        return PAGE_SIZE_DEFAULT
    match = WHOLE_NUMBER.fullmatch(raw.strip())
    if match is None:
        raise serializers.ValidationError(
            {"page_size": [f"Enter a whole number from 1 to {PAGE_SIZE_MAX}."]}
        )
    sign, digits = match.groups()
    if sign or digits == "0":
        raise serializers.ValidationError({"page_size": ["Ask for at least 1 dataset a page."]})
    return min(int(digits), PAGE_SIZE_MAX) if len(digits) <= 3 else PAGE_SIZE_MAX


class DatasetDetail(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DatasetDetailSerializer

    @extend_schema(
        summary="One dataset: metadata, tags, counts, manifest digest, form version",
        responses={200: DatasetDetailSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(self.get_serializer(selectors.dataset_get_ready(pk=pk)).data)

    @extend_schema(
        summary="Delete a dataset outside raw (curators); raw is refused with 409",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request: Request, pk: Any) -> Response:
        services.dataset_delete(dataset=selectors.dataset_get_ready(pk=pk), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetFiles(generics.ListAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DataFileSerializer

    @extend_schema(
        summary="The files of a dataset: path, size, SHA-256, content type",
        responses={200: DataFileSerializer(many=True), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[DataFile]:
        return selectors.dataset_get_ready(pk=self.kwargs["pk"]).files.order_by("path")


class DatafileDownload(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DownloadSerializer

    @extend_schema(
        summary="Where to download one file (a presigned URL on S3)",
        description="409 while the dataset's files are in the archive's cold storage "
        "and not restored.",
        responses={200: DownloadSerializer, **error_responses(401, 403, 404, 409)},
    )
    def get(self, request: Request, pk: Any, file_id: int) -> Response:
        dataset = selectors.dataset_get_ready(pk=pk)
        datafile = dataset.files.filter(pk=file_id).first()
        if datafile is None:
            raise NotFound("This dataset has no file with this id.")
        selectors.dataset_readable_check(dataset=dataset)  # a cold one: 409 until restored
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
        responses={202: PromotionSerializer, **error_responses(400, 401, 403, 404, 409, 413, 415)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        promotion = services.dataset_promote_request(
            dataset=selectors.dataset_get_ready(pk=pk),
            user=request.user,
            target_layer=body.validated_data.get("target_layer"),
        )
        return Response(PromotionSerializer(promotion).data, status=status.HTTP_202_ACCEPTED)


class DatasetRestore(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = ColdRestoreSerializer

    @extend_schema(
        summary="Request a restore of a dataset in the archive's cold storage",
        description="Queues a job asking the store to make every file readable for "
        "ARCHIVE_RESTORE_DAYS; the requester is emailed once all are. Curators, and members "
        "for their own datasets. 409 for a dataset not in cold storage, or with a restore "
        "under way or readable already. No body.",
        request=None,
        responses={202: ColdRestoreSerializer, **error_responses(401, 403, 404, 409, 413)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        restore = services.dataset_restore_request(
            dataset=selectors.dataset_get_ready(pk=pk), user=request.user
        )
        return Response(ColdRestoreSerializer(restore).data, status=status.HTTP_202_ACCEPTED)


class Stats(generics.GenericAPIView):
    permission_classes = [CanBrowse]

    @extend_schema(
        summary="Ready datasets per layer and bytes per source",
        responses={
            200: inline_serializer(
                "Stats",
                {
                    "datasets_per_layer": serializers.DictField(child=serializers.IntegerField()),
                    "bytes_per_source": serializers.ListField(child=serializers.DictField()),
                },
            ),
            **error_responses(401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(catalog_stats())


class CanAddDataset(BasePermission):
    """Members and up, as for uploads; anonymous callers get a 401 (the token header)."""

    message = "Only lab members can register datasets."

    def has_permission(self, request: Any, view: Any) -> bool:
        return request.user.is_authenticated and request.user.has_perm("catalog.add_dataset")


class DatasetRegister(generics.GenericAPIView):
    permission_classes = [CanAddDataset]
    # Metadata and tags are JSON (a form post cannot say them), bounded before parsing.
    parser_classes = [JSONBodyParser]
    serializer_class = DatasetRegisterSerializer

    @extend_schema(
        summary="Register the objects under an S3 prefix as a new dataset (raw, or derived)",
        description="Every check runs before the reply (400 lists the problems, nothing is "
        "stored); a worker then copies the files. With derived_from (ready datasets the caller "
        "may read, at most 50) the dataset goes into processed, or curated for curators (403 "
        "for others), and its provenance records a derivation. Poll the status URL until the "
        "dataset is ready or failed. Only buckets listed in REGISTER_BUCKETS are read (403 "
        "when it is empty); the body is at most API_MAX_BODY_BYTES of JSON, nested at most "
        "20 levels.",
        responses={202: DatasetStatusSerializer, **error_responses(400, 401, 403, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        dataset = services.dataset_register_start(
            draft=body.draft(owner=request.user), prefix=body.validated_data["prefix"]
        )
        data = DatasetStatusSerializer(dataset, context=self.get_serializer_context()).data
        return Response(
            data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["status_url"]}
        )


class DatasetStatusView(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = DatasetStatusSerializer

    @extend_schema(
        summary="A dataset's status as its files are copied: files so far, why it failed",
        description="For the dataset's owner, curators and admins, whatever its status.",
        responses={200: DatasetStatusSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        dataset = Dataset.objects.filter(pk=pk).first()
        if dataset is None:
            raise NotFound("No dataset with this id.")
        # Curators see every dataset's progress; others only their own.
        if dataset.owner_id != request.user.pk and not request.user.has_perm(
            "catalog.promote_onward"
        ):
            raise PermissionDenied("Only the dataset's owner or a curator can see its status.")
        return Response(self.get_serializer(dataset).data)
