"""Backups API: list and show backup jobs, trigger one (SPEC §3 items 4 and 6); request a
restore from a snapshot and follow it (curators and admins)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from lakeweb.api_docs import errors
from lakeweb.api_parsers import JSONBodyParser
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.selectors import job_message

from .models import BackupJob, BackupKind
from .selectors import backup_job_get, backup_jobs_recent, restore_job_get
from .services import backup_request, restore_request
from .services.restore import MAX_DATASETS

# The list shows the most recent jobs (about a year of daily and weekly ones).
JOBS_LISTED = 1000


class BackupPermission(BasePermission):
    """Reading needs backups.view_backupjob; triggering is backup_request's own check."""

    message = "Only curators and admins can see backups."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not request.user.is_authenticated:
            return False
        return request.method not in SAFE_METHODS or request.user.has_perm("backups.view_backupjob")


class BackupJobSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)
    status = serializers.ChoiceField(source="job.status", choices=JobStatus.choices, read_only=True)
    triggered_by = serializers.CharField(
        source="job.requested_by.get_username", read_only=True, allow_null=True, default=None
    )
    progress_done = serializers.IntegerField(source="job.progress_done", read_only=True)
    progress_total = serializers.IntegerField(
        source="job.progress_total", read_only=True, allow_null=True
    )
    error = serializers.CharField(source="job.error", read_only=True)
    created_at = serializers.DateTimeField(source="job.created_at", read_only=True)
    started_at = serializers.DateTimeField(source="job.started_at", read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(
        source="job.finished_at", read_only=True, allow_null=True
    )
    message = serializers.SerializerMethodField()

    class Meta:
        model = BackupJob
        fields = [
            "id",
            "job",
            "kind",
            "status",
            "message",
            "progress_done",
            "progress_total",
            "error",
            "prefix",
            "triggered_by",
            "object_count",
            "bytes_copied",
            "error_count",
            "errors",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_message(self, backup: BackupJob) -> str:
        return job_message(backup.job)


class BackupList(generics.ListAPIView):
    permission_classes = [BackupPermission]
    serializer_class = BackupJobSerializer

    @extend_schema(
        summary="Backup jobs, newest first, with status, counts, bytes and errors",
        responses={200: BackupJobSerializer(many=True), **errors(400, 401, 403, 404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[BackupJob]:
        return backup_jobs_recent(limit=JOBS_LISTED)

    @extend_schema(
        summary="Trigger an on-demand backup of the whole lake (curators and admins)",
        request=None,
        responses={202: BackupJobSerializer, **errors(401, 403)},
    )
    def post(self, request: Request) -> Response:
        job = backup_request(kind=BackupKind.MANUAL, user=request.user)
        return Response(BackupJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class BackupDetail(generics.GenericAPIView):
    permission_classes = [BackupPermission]
    serializer_class = BackupJobSerializer

    @extend_schema(
        summary="One backup job", responses={200: BackupJobSerializer, **errors(401, 403, 404)}
    )
    def get(self, request: Request, pk: Any) -> Response:
        job = backup_job_get(pk=pk)
        if job is None:
            raise NotFound("No backup job with this id.")
        return Response(self.get_serializer(job).data)


class RestorePermission(BasePermission):
    """Curators and admins (backups.trigger_backup), before any body is read."""

    message = "Only curators and admins can restore from backups."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.has_perm("backups.trigger_backup"))


class RestoreRequestSerializer(serializers.Serializer):
    snapshot = serializers.CharField(
        max_length=200,
        help_text="A complete snapshot: kind/label (manual/2026-12-01T020000.000000Z-1a2b3c4d), "
        "or its prefix as GET /api/backups/ gives it.",
    )
    datasets = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_DATASETS,
        help_text="Ids of deleted datasets to bring back; omitted or empty: every dataset of "
        "the snapshot that the catalog lacks.",
    )


class RestoreJobSerializer(serializers.ModelSerializer):
    snapshot = serializers.CharField(source="parameters.snapshot", read_only=True)
    datasets = serializers.ListField(
        source="parameters.datasets", child=serializers.UUIDField(), read_only=True
    )
    message = serializers.SerializerMethodField()
    requested_by = serializers.CharField(
        source="requested_by.get_username", read_only=True, allow_null=True, default=None
    )
    restored = serializers.ListField(
        source="result.datasets",
        child=serializers.UUIDField(),
        read_only=True,
        default=list,
        help_text="Once succeeded: the datasets brought back.",
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "status",
            "message",
            "snapshot",
            "datasets",
            "progress_done",
            "progress_total",
            "error",
            "restored",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_message(self, job: Job) -> str:
        return job_message(job)


class RestoreStart(generics.GenericAPIView):
    permission_classes = [RestorePermission]
    parser_classes = [JSONBodyParser]
    serializer_class = RestoreRequestSerializer

    @extend_schema(
        summary="Restore one or more deleted datasets, or every missing one, from a snapshot",
        description="Queues a restore job (202); follow it at /api/backups/restores/{id}/. "
        "Every check runs first and nothing is queued when one refuses: 400 a malformed "
        "snapshot name, dataset id or body, or a dataset the snapshot does not hold; 403 not "
        "a curator or admin; 404 no such snapshot, or an incomplete one (no manifest.json); "
        "409 a dataset that still exists or was deleted before the snapshot, or a restore of "
        "the snapshot already queued or running.",
        responses={202: RestoreJobSerializer, **errors(400, 401, 403, 404, 409, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = restore_request(
            snapshot=data["snapshot"],
            dataset_ids=[str(pk) for pk in data.get("datasets", [])],
            user=request.user,  # type: ignore[arg-type]  # authenticated: RestorePermission
        )
        return Response(RestoreJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RestoreDetail(generics.GenericAPIView):
    permission_classes = [RestorePermission]
    serializer_class = RestoreJobSerializer

    @extend_schema(
        summary="A restore job: status, progress, the datasets restored or the error",
        responses={200: RestoreJobSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        job = restore_job_get(pk=pk)
        if job is None:
            raise NotFound("No restore job with this id.")
        return Response(self.get_serializer(job).data)
