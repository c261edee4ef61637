"""Metadata forms admins build in Django admin, and the versions datasets keep (SPEC §2)."""

from __future__ import annotations

from django.db import models


class MetadataForm(models.Model):
    """A form admins build in Django admin; datasets keep the version they used."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    retired = models.BooleanField(
        default=False, help_text="Retired forms stay readable but cannot be used for new uploads."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "text"
    LONG_TEXT = "long_text", "long text"
    INTEGER = "integer", "integer"
    DECIMAL = "decimal", "decimal"
    DATE = "date", "date"
    DATETIME = "datetime", "date-time"
    BOOLEAN = "boolean", "boolean"
    CHOICE = "choice", "choice"
    MULTIPLE_CHOICE = "multiple_choice", "multiple choice"
    URL = "url", "URL"
    EMAIL = "email", "email"


class MetadataField(models.Model):
    """One field of the form as it is being edited; versions snapshot them."""

    form = models.ForeignKey(MetadataForm, on_delete=models.CASCADE, related_name="fields")
    order = models.PositiveIntegerField(default=0)
    name = models.SlugField(max_length=64, help_text="Key stored in the metadata JSON.")
    prompt = models.CharField(max_length=200, help_text="Label shown to the user.")
    help_text = models.CharField(max_length=500, blank=True)
    field_type = models.CharField(max_length=20, choices=FieldType.choices, default=FieldType.TEXT)
    required = models.BooleanField(default=False)
    choices = models.TextField(blank=True, help_text="One choice per line (choice fields).")
    default = models.CharField(max_length=500, blank=True)
    min_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    max_value = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    pattern = models.CharField(max_length=500, blank=True, help_text="Regular expression (text).")

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "name"], name="metadatafield_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.form}: {self.name}"

    def clean(self) -> None:
        # Refused here, the admin shows the fault beside the field and stores nothing.
        from ..metadata import field_definition, field_definition_check  # metadata imports us

        field_definition_check(field_definition(self))


class MetadataFormVersion(models.Model):
    """An immutable snapshot of a form's fields; datasets point here."""

    form = models.ForeignKey(MetadataForm, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    fields = models.JSONField(help_text="The field definitions as they were in this version.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["form", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["form", "number"], name="formversion_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.form} v{self.number}"
