"""Provenance in Django admin: read-only, as the record is append-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import ProvenanceEvent


@admin.register(ProvenanceEvent)
class ProvenanceEventAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "activity",
        "actor_label",
        "dataset",
        "source_layer",
        "target_layer",
    )
    list_filter = ("activity", "target_layer")
    search_fields = ("actor_label", "note", "dataset__name")
    readonly_fields = [f.name for f in ProvenanceEvent._meta.fields] + ["used"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
