"""Pipelines in the API: the registered ones, start a run, follow it, run it again, cancel.

Each view validates its body and calls one service or selector; refusals get
their status from ``lakeweb.errors`` through ``lakeweb.api``.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Layer
from lakeweb.api import CanBrowse
from lakeweb.api_docs import errors
from lakeweb.api_parsers import JSONBodyParser
from lakeweb.jobs.models import JobStatus
from lakeweb.jobs.services import job_cancel

from ..models import PipelineRun
from .requests import MAX_INPUTS, pipeline_run_again, pipeline_run_request
from .selectors import pipeline_run_get, run_reproduction


class PipelineSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    reads = serializers.ListField(child=serializers.CharField())
    writes = serializers.ListField(child=serializers.CharField())
    code_digest = serializers.CharField(help_text="SHA-256 of the pipeline's module source.")
    parameters = serializers.ListField(
        child=serializers.DictField(),
        help_text="Each as a metadata form field: name, prompt, type, required, choices, "
        "default, min, max, pattern.",
    )


class RunStartSerializer(serializers.Serializer):
    pipeline = serializers.CharField(max_length=100, help_text="A registered pipeline's name.")
    inputs = serializers.ListField(
        # Checked by the service, which names a malformed id in its message.
        child=serializers.CharField(max_length=40, help_text="A dataset id (UUID)."),
        min_length=1,
        max_length=MAX_INPUTS,
        help_text="Ready datasets in layers the pipeline reads.",
    )
    parameters = serializers.DictField(
        required=False, help_text="name: value; omitted parameters take their defaults."
    )
    target_layer = serializers.ChoiceField(
        choices=Layer.choices,
        required=False,
        help_text="One the pipeline writes; defaults to its first (members: processed only).",
    )


class PipelineRunSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(source="job.status", choices=JobStatus.choices, read_only=True)
    job = serializers.UUIDField(source="job_id", read_only=True)
    output = serializers.UUIDField(source="output_id", read_only=True, allow_null=True)
    progress_done = serializers.IntegerField(source="job.progress_done", read_only=True)
    progress_total = serializers.IntegerField(
        source="job.progress_total", read_only=True, allow_null=True
    )
    log = serializers.CharField(source="job.log", read_only=True)
    error = serializers.CharField(source="job.error", read_only=True)
    reproduces = serializers.UUIDField(source="reproduces_id", read_only=True, allow_null=True)
    same_as_reproduced = serializers.SerializerMethodField(
        help_text="For a run again that made its dataset: whether its manifest digest equals "
        "the first run's; else null."
    )

    class Meta:
        model = PipelineRun
        fields = [
            "id",
            "pipeline_name",
            "pipeline_version",
            "code_digest",
            "parameters",
            "inputs",
            "target_layer",
            "status",
            "job",
            "output",
            "progress_done",
            "progress_total",
            "log",
            "error",
            "software",
            "created_at",
            "started_at",
            "ended_at",
            "reproduces",
            "same_as_reproduced",
        ]

    def get_same_as_reproduced(self, run: PipelineRun) -> bool | None:
        reproduction = run_reproduction(run=run)
        return None if reproduction is None else reproduction.same


def _spec_data(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "version": spec.version,
        "description": spec.description,
        "reads": list(spec.reads),
        "writes": list(spec.writes),
        "code_digest": spec.code_digest,
        "parameters": list(spec.parameters),
    }


class PipelineList(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    pagination_class = None

    @extend_schema(
        summary="The registered pipelines with their parameters",
        responses={200: PipelineSerializer(many=True), **errors(401, 403)},
    )
    def get(self, request: Request) -> Response:
        from .registry import pipelines_all

        return Response([_spec_data(spec) for spec in pipelines_all()])


class RunStart(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    parser_classes = [JSONBodyParser]
    serializer_class = RunStartSerializer

    @extend_schema(
        summary="Queue a run of a registered pipeline on ready datasets",
        description="Every check runs first (400 lists the problems: unknown pipeline, inputs "
        "absent, not ready or in a layer it does not read, parameters of the wrong type or out "
        "of range); nothing is stored then. Viewers get 403, members 403 onto curated.",
        responses={202: PipelineRunSerializer, **errors(400, 401, 403, 413, 415)},
    )
    def post(self, request: Request) -> Response:
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        run = pipeline_run_request(
            user=cast(User, request.user),
            pipeline=data["pipeline"],
            inputs=data["inputs"],
            parameters=data.get("parameters"),
            target_layer=data.get("target_layer"),
        )
        return Response(PipelineRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunDetail(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = PipelineRunSerializer

    @extend_schema(
        summary="A pipeline run: status, progress, log, output",
        responses={200: PipelineRunSerializer, **errors(401, 403, 404)},
    )
    def get(self, request: Request, pk: Any) -> Response:
        return Response(PipelineRunSerializer(pipeline_run_get(pk=pk)).data)


class RunAgain(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = PipelineRunSerializer

    @extend_schema(
        request=None,
        summary="Run again: same pipeline version, parameters and inputs, a new dataset",
        responses={202: PipelineRunSerializer, **errors(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        run = pipeline_run_again(run=pipeline_run_get(pk=pk), user=cast(User, request.user))
        return Response(PipelineRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class RunCancel(generics.GenericAPIView):
    permission_classes = [CanBrowse]
    serializer_class = PipelineRunSerializer

    @extend_schema(
        request=None,
        summary="Cancel a run (staff and the person who asked for it)",
        responses={200: PipelineRunSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: Any) -> Response:
        run = pipeline_run_get(pk=pk)
        job_cancel(job=run.job, user=cast(User, request.user))
        return Response(PipelineRunSerializer(pipeline_run_get(pk=pk)).data)
