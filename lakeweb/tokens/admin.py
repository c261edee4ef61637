"""API tokens in Django admin: who has them, prefix, scope, expiry, last use; never a key.

Keys are made by their owner on the token page (or ``manage.py api_token_create``),
so admin neither adds nor edits them: it lists them and revokes them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import ApiToken
from .services import api_tokens_revoke

SHOWN = (
    "user",
    "name",
    "prefix",
    "read_only",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = SHOWN
    list_filter = ("read_only", ("revoked_at", admin.EmptyFieldListFilter), "expires_at")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__username", "prefix", "name")
    fields = SHOWN  # the digest is not shown either: it is all an attacker would need offline
    readonly_fields = SHOWN
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoked, not deleted: who had which token stays on record

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = api_tokens_revoke(tokens=queryset)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
