"""Provenance's kind of long work: pipeline runs, on a queue of their own."""

from __future__ import annotations

from django.conf import settings

from lakeweb.jobs.registry import QUEUE_PIPELINES, job_kind

from .pipelines.requests import RUN_KIND
from .pipelines.runs import pipeline_run_body, pipeline_run_on_fail

job_kind(
    RUN_KIND,
    label="Pipeline run",
    queue=QUEUE_PIPELINES,
    time_limit=settings.PIPELINE_TIME_LIMIT,
    # A lost worker's run starts again from the top (its staging is per attempt).
    max_attempts=3,
    on_fail=pipeline_run_on_fail,
)(pipeline_run_body)
