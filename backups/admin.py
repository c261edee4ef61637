"""Backup jobs in Django admin (schedules are django-celery-beat's Periodic tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from lakeweb.templatetags.sizes import size_iec

from .models import BackupJob


@admin.register(BackupJob)
class BackupJobAdmin(admin.ModelAdmin):
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
    readonly_fields = [f.name for f in BackupJob._meta.fields]

    @admin.display(description="bytes copied", ordering="bytes_copied")
    def copied(self, obj: BackupJob) -> str:
        return size_iec(obj.bytes_copied)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of work done; its job is kept too
