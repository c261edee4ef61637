"""Backup jobs in Django admin (schedules are django-celery-beat's Periodic tasks)."""

from __future__ import annotations

from django.contrib import admin

from lakeweb.admin import RecordAdmin
from lakeweb.templatetags.sizes import size_iec

from .models import BackupJob


@admin.register(BackupJob)
class BackupJobAdmin(RecordAdmin):
    list_display = (
        "job",
        "kind",
        "status",
        "prefix",
        "object_count",
        "copied",
        "error_count",
    )
    list_filter = ("kind", "job__status")
    list_select_related = ("job",)

    @admin.display(description="bytes copied", ordering="bytes_copied")
    def copied(self, obj: BackupJob) -> str:
        return size_iec(obj.bytes_copied)
