"""Pipeline runs in Django admin: a record of what ran, read-only and never deleted there
(provenance events are catalog's, shown by ``catalog.admin``)."""

from __future__ import annotations

from django.contrib import admin

from lakeweb.admin import RecordAdmin

from .models import PipelineRun


@admin.register(PipelineRun)
class PipelineRunAdmin(RecordAdmin):
    list_display = (
        "created_at",
        "pipeline_name",
        "pipeline_version",
        "status",
        "requested_by",
        "input_names",
        "output",
        "target_layer",
        "started_at",
        "ended_at",
    )
    list_filter = ("job__status", "pipeline_name", "target_layer")
    # One query for the page: the inputs are shown from the names captured with the run.
    list_select_related = ("job", "requested_by", "output")
    search_fields = ("id", "pipeline_name", "requested_by__email", "output__name", "code_digest")
    date_hierarchy = "created_at"

    @admin.display(description="status", ordering="job__status")
    def status(self, obj: PipelineRun) -> str:
        return obj.job.status

    @admin.display(description="inputs")
    def input_names(self, obj: PipelineRun) -> str:
        return ", ".join(str(item.get("name", item.get("id", ""))) for item in obj.inputs)
