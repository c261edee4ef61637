"""The audit trail in Django admin: read by those allowed to, never changed or deleted."""

from __future__ import annotations

from typing import Any

import auditlog.admin  # noqa: F401 - registers LogEntry, which is replaced just below
from auditlog.admin import LogEntryAdmin
from auditlog.models import LogEntry
from django.contrib import admin
from django.http import HttpRequest


class AuditEntryAdmin(LogEntryAdmin):
    """auditlog's admin with the address shown and filterable, and no way to delete:
    auditlog's own lets a cascade from another admin page through."""

    list_display = [*LogEntryAdmin.list_display, "remote_addr"]
    search_fields = [*LogEntryAdmin.search_fields, "remote_addr", "actor_email"]
    fieldsets = [
        (None, {"fields": ["created", "user_url", "remote_addr", "resource_url", "cid"]}),
        *LogEntryAdmin.fieldsets[1:],
    ]
    readonly_fields = [*LogEntryAdmin.readonly_fields, "remote_addr"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        return {}


admin.site.unregister(LogEntry)
admin.site.register(LogEntry, AuditEntryAdmin)
