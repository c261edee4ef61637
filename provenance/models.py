"""Provenance's own rows: pipeline runs (the events themselves live in catalog)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class PipelineRun(models.Model):
    """One run of a registered pipeline: what ran, on what, with what, and what it made.

    The job (``lakeweb.jobs``) holds status, progress and log; this row holds
    what provenance and "Run again" need, captured when the run was asked for.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.OneToOneField("lakeweb.Job", on_delete=models.PROTECT, related_name="pipeline_run")
    pipeline_name = models.CharField(max_length=100)
    pipeline_version = models.CharField(max_length=50)
    code_digest = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict, blank=True)
    # [{"id", "name", "layer", "manifest_digest"}], captured before the run.
    inputs = models.JSONField(default=list)
    input_datasets = models.ManyToManyField(
        "catalog.Dataset", related_name="pipeline_runs_used", blank=True
    )
    target_layer = models.CharField(max_length=16)
    output = models.ForeignKey(
        "catalog.Dataset",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pipeline_runs_made",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    reproduces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="reproductions"
    )
    software = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("run_pipeline", "Can run pipelines onto processed"),
            ("run_pipeline_curated", "Can run pipelines onto curated"),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline_name} {self.pipeline_version} ({self.pk})"
