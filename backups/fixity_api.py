"""Fixity API (curators and admins): coverage, the next batch's plan, runs, open failures."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lakeweb.api_docs import errors
from lakeweb.jobs.models import Job
from lakeweb.jobs.selectors import job_message

from .fixity import FIXITY_KIND
from .fixity_status import (
    FIXITY_PERMISSION,
    fixity_coverage,
    fixity_failures_open,
    fixity_request,
    fixity_runs,
)
from .reconcile import RECONCILE_KIND


class FixityPermission(BasePermission):
    message = "Only curators and admins can see and run fixity checks."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user.is_authenticated and request.user.has_perm(FIXITY_PERMISSION))


class PlanSerializer(serializers.Serializer):
    total_objects = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    due = serializers.IntegerField(help_text="Objects that must be verified before the next batch.")
    batches_per_cycle = serializers.IntegerField()
    batch_size = serializers.IntegerField()
    bytes_budget = serializers.IntegerField(allow_null=True)
    cycle_possible = serializers.BooleanField()
    warning = serializers.CharField(allow_blank=True)


class CoverageSerializer(serializers.Serializer):
    cycle_days = serializers.IntegerField()
    interval_minutes = serializers.IntegerField()
    bytes_per_hour = serializers.IntegerField(allow_null=True)
    objects = serializers.IntegerField()
    verified_within_cycle = serializers.IntegerField()
    never_verified = serializers.IntegerField()
    blobs = serializers.IntegerField(help_text="Of the objects, blobs of the backup store.")
    blobs_verified_within_cycle = serializers.IntegerField()
    percent = serializers.FloatField(help_text="Objects verified within the cycle, in percent.")
    plan = PlanSerializer()


class FixityRunSerializer(serializers.Serializer):
    job = serializers.UUIDField(source="pk")
    kind = serializers.CharField()
    status = serializers.CharField()
    message = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    result = serializers.JSONField()
    error = serializers.CharField(allow_blank=True)

    def get_message(self, job: Job) -> str:
        return job_message(job)


class DatasetRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    layer = serializers.CharField()


class FailureSerializer(serializers.Serializer):
    kind = serializers.CharField(source="failure.kind")
    found_by = serializers.CharField(source="failure.found_by")
    found_at = serializers.DateTimeField(source="failure.found_at")
    layer = serializers.CharField(source="failure.layer")
    storage_key = serializers.CharField(source="failure.storage_key")
    path = serializers.CharField(source="failure.datafile.path", default=None, allow_null=True)
    dataset = DatasetRefSerializer(source="failure.dataset", allow_null=True)
    expected_sha256 = serializers.CharField(source="failure.expected_sha256", allow_blank=True)
    found_sha256 = serializers.CharField(source="failure.found_sha256", allow_blank=True)
    detail = serializers.CharField(source="failure.detail")
    removed = serializers.BooleanField(source="failure.removed")
    descendants = DatasetRefSerializer(many=True)


class FixitySerializer(serializers.Serializer):
    coverage = CoverageSerializer()
    runs = FixityRunSerializer(many=True)
    failures = FailureSerializer(many=True)


class FixityRunRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["fixity", "reconcile"],
        help_text="A fixity batch now, or a reconciliation pass.",
    )


class FixityOverview(APIView):
    permission_classes = [FixityPermission]

    @extend_schema(
        summary="Fixity coverage, the next batch's plan, the last runs and open failures",
        responses={200: FixitySerializer, **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        body = {
            "coverage": fixity_coverage(),
            "runs": fixity_runs(),
            "failures": fixity_failures_open(),
        }
        return Response(FixitySerializer(body).data)

    @extend_schema(
        summary="Run a fixity batch or a reconciliation now (the live one if one is queued)",
        request=FixityRunRequestSerializer,
        responses={202: FixityRunSerializer, **errors(400, 401, 403, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        given = FixityRunRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        kind = {"fixity": FIXITY_KIND, "reconcile": RECONCILE_KIND}[given.validated_data["kind"]]
        job = fixity_request(kind=kind, user=request.user)
        return Response(FixityRunSerializer(job).data, status=status.HTTP_202_ACCEPTED)
