"""Django admin: sources, metadata forms with ordered fields, datasets (read-only once sealed).

Promotions and provenance events are shown read-only: they are the record of work done.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.db.models import QuerySet
from django.http import HttpRequest

from lakeweb.admin import RecordAdmin
from lakeweb.templatetags.sizes import size_iec

from .models import (
    DataFile,
    Dataset,
    FixityFailure,
    MetadataField,
    MetadataForm,
    MetadataFormVersion,
    Promotion,
    ProvenanceEvent,
    Source,
    Tag,
)
from .services import form_version_publish
from .services.metadata_forms import metadata_form_delete


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "url")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "slug")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


class MetadataFieldInline(admin.StackedInline):
    model = MetadataField
    extra = 1
    fields = (
        ("order", "name", "field_type", "required"),
        ("prompt", "help_text"),
        ("choices", "default"),
        ("min_value", "max_value", "pattern"),
    )


class MetadataFormVersionInline(admin.TabularInline):
    model = MetadataFormVersion
    extra = 0
    fields = ("number", "created_at")
    readonly_fields = ("number", "created_at")
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MetadataForm)
class MetadataFormAdmin(admin.ModelAdmin):
    list_display = ("name", "retired", "latest_version", "created_at")
    list_filter = ("retired",)
    search_fields = ("name",)
    inlines = [MetadataFieldInline, MetadataFormVersionInline]
    actions = ["delete_selected"]  # ours, in place of the site-wide one

    @admin.display(description="version")
    def latest_version(self, obj: MetadataForm) -> int | None:
        latest = obj.versions.order_by("-number").first()
        return latest.number if latest else None

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        version = form_version_publish(form=form.instance)
        self.message_user(request, f"Datasets from now on use version {version.number}.")

    def has_delete_permission(self, request: HttpRequest, obj: MetadataForm | None = None) -> bool:
        # A form that has been used is retired, never deleted (old metadata stays readable).
        if obj is not None and Dataset.objects.filter(form_version__form=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(permissions=["delete"], description=django_delete_selected.short_description)
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[MetadataForm]) -> Any:
        """Django's bulk delete for the unused forms; the used ones are named and kept."""
        used = queryset.filter(versions__datasets__isnull=False).distinct()
        if used:
            names = ", ".join(form.name for form in used)
            self.message_user(
                request,
                f"Not deleted, datasets use them: {names}. Retire a used form instead.",
                messages.ERROR,
            )
        unused = queryset.exclude(pk__in=used.values("pk"))
        return django_delete_selected(self, request, unused) if unused.exists() else None

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Django's collector stops at the versions' PROTECT; metadata_form_delete
        # removes an unused form's versions with it, so list them as deleted.
        forms = list(objs)
        fields = MetadataField.objects.filter(form__in=forms)
        versions = MetadataFormVersion.objects.filter(form__in=forms)
        nested: list[Any] = []
        for form in forms:
            parts = [f"Metadata field: {f.name}" for f in fields if f.form_id == form.pk]
            parts += [f"Metadata form version: {v}" for v in versions if v.form_id == form.pk]
            nested += [f"Metadata form: {form}", parts]
        counts = {"metadata forms": len(forms), "metadata fields": len(fields)}
        counts["metadata form versions"] = len(versions)
        refused = {
            "metadata form" for form in forms if not self.has_delete_permission(request, form)
        }
        return nested, counts, refused, []

    def delete_model(self, request: HttpRequest, obj: MetadataForm) -> None:
        metadata_form_delete(form=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MetadataForm]) -> None:
        for form in queryset:
            metadata_form_delete(form=form)


class DataFileInline(admin.TabularInline):
    model = DataFile
    extra = 0
    fields = ("path", "size", "size_shown", "sha256", "content_type", "storage_key")
    readonly_fields = fields
    can_delete = False
    max_num = 0

    @admin.display(description="size (IEC)")
    def size_shown(self, obj: DataFile) -> str:
        return size_iec(obj.size)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "layer",
        "status",
        "source",
        "owner",
        "file_count",
        "size",
        "created_at",
    )
    list_filter = ("layer", "status", "source")
    search_fields = ("name", "external_id", "description")
    inlines = [DataFileInline]
    readonly_fields = (
        "id",
        "layer",
        "owner",
        "metadata",
        "form_version",
        "file_count",
        "total_size",
        "size",
        "manifest_digest",
        "status",
        "failure_reason",
        "storage_prefix",
        "created_at",
        "sealed_at",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Dataset | None = None) -> Any:
        if obj is not None and obj.is_sealed:
            # Sealed datasets are immutable (SPEC §2).
            return [f.name for f in Dataset._meta.fields] + ["tags", "size"]
        return self.readonly_fields

    @admin.display(description="size", ordering="total_size")
    def size(self, obj: Dataset) -> str:
        return size_iec(obj.total_size)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # datasets come from uploads, ingest and promotions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deletion goes through the service (raw is never deleted)


@admin.register(Promotion)
class PromotionAdmin(RecordAdmin):
    list_display = ("source", "target_layer", "status", "job")
    list_filter = ("job__status", "target_layer")
    list_select_related = ("source", "job")


@admin.register(ProvenanceEvent)
class ProvenanceEventAdmin(RecordAdmin):
    """Read-only, as the record is append-only."""

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


@admin.register(FixityFailure)
class FixityFailureAdmin(RecordAdmin):
    """Read-only: failures are recorded by fixity, and closed by it when the bytes are intact."""

    list_display = (
        "found_at",
        "kind",
        "layer",
        "storage_key",
        "dataset",
        "found_by",
        "resolved_at",
    )
    list_filter = ("kind", "layer", "found_by")
    list_select_related = ("dataset",)
    search_fields = ("storage_key", "dataset__name")
