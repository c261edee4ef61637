"""Jobs in Django admin, and the base of every record shown there: read-only, never deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .jobs.models import Job
from .tokens import admin as tokens_admin  # noqa: F401 - registers ApiTokenAdmin


class RecordAdmin(admin.ModelAdmin):
    """A record of what happened (a job, a promotion, a backup, a provenance event):
    shown in admin, never added, changed or deleted there."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.get_fields() if f.concrete]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(RecordAdmin):
    list_display = ("created_at", "kind", "status", "attempts", "requested_by", "finished_at")
    list_filter = ("kind", "status", "queue")
    list_select_related = ("requested_by",)
    search_fields = ("id", "error")


# Users (with two-factor sign-in) and the audit trail, each in a module of its own.
from . import admin_users  # noqa: E402, F401
from .audit import admin as audit_admin  # noqa: E402, F401
