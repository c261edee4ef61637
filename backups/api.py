"""Backups API: list and show backup jobs, trigger one (SPEC §3 items 4 and 6)."""

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
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.selectors import job_message

from .models import BackupJob, BackupKind
from .selectors import backup_job_get, backup_jobs_recent
from .services import backup_request

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
