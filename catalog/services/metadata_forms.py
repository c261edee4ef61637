"""Metadata form versions and validation of metadata against them."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from lakeweb.errors import ActionRefused

from ..metadata import field_definition, metadata_form_class, to_json, yes_no
from ..models import Dataset, FieldType, MetadataForm, MetadataFormVersion, Source

MANDATORY_KEYS = ("source", "date", "version")


@transaction.atomic
def form_version_publish(*, form: MetadataForm) -> MetadataFormVersion:
    """Snapshot the form's current fields; a new version only when they changed."""
    MetadataForm.objects.select_for_update().get(pk=form.pk)
    fields = [field_definition(field) for field in form.fields.order_by("order", "id")]
    latest = form.versions.order_by("-number").first()
    if latest is not None and latest.fields == fields:
        return latest
    number = latest.number + 1 if latest else 1
    return MetadataFormVersion.objects.create(form=form, number=number, fields=fields)


def form_version_current(*, form: MetadataForm) -> MetadataFormVersion:
    """The version new uploads use (published on first use)."""
    return form.versions.order_by("-number").first() or form_version_publish(form=form)


def _yes_no(spec: dict[str, Any], value: Any) -> bool:
    """Yes/no words sent as text (API, ingest) as booleans, empty as no; others refused."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value)
    answer = yes_no(text) if text.strip() else False
    if answer is None:
        raise ValidationError(f"{spec['prompt']}: '{value}' is not yes or no.")
    return answer


def metadata_clean(*, version: MetadataFormVersion, values: dict[str, Any]) -> dict[str, Any]:
    """Validate one experiment's values against a form version; JSON-ready result."""
    return values_clean(fields=version.fields, values=values)


def values_clean(*, fields: list[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """Validate values against field definitions (a form version's, or a pipeline's
    parameters); JSON-ready result, or a ValidationError naming each field's fault."""
    values = dict(values)
    for spec in fields:
        if spec["type"] == FieldType.BOOLEAN and spec["name"] in values:
            values[spec["name"]] = _yes_no(spec, values[spec["name"]])
    form = metadata_form_class(fields)(data=values)
    if not form.is_valid():
        raise ValidationError(
            # An ErrorList yields its messages as str; the stubs also list ValidationError.
            [f"{form.fields[name].label}: {' '.join(errs)}" for name, errs in form.errors.items()]  # type: ignore[arg-type]
        )
    return {name: to_json(value) for name, value in form.cleaned_data.items()}


def _given(values: dict[str, Any], key: str, fallback: Any) -> Any:
    value = values.get(key)
    return fallback if value is None or value == "" else value  # 0 is an answer


def metadata_document(
    *, source: Source, experiments: list[dict[str, Any]], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The dataset's metadata JSON: mandatory keys filled in, experiments as a list.

    ``source``, ``date`` and ``version`` (SPEC §2) come from the first
    experiment when the form has such fields, else from the upload itself.
    """
    first = experiments[0] if experiments else {}
    document: dict[str, Any] = {
        "source": _given(first, "source", source.slug),
        "date": _given(first, "date", timezone.localdate().isoformat()),
        "version": str(_given(first, "version", "1")),
    }
    document.update(extra or {})
    document["experiments"] = experiments
    return document


@transaction.atomic
def metadata_form_delete(*, form: MetadataForm) -> None:
    """Delete a form no dataset used, with its fields and versions.

    Versions PROTECT their form so that nothing loses one by accident; those
    of an unused form describe no metadata. A used form is retired instead
    (SPEC §2).
    """
    MetadataForm.objects.select_for_update().get(pk=form.pk)
    if Dataset.objects.filter(form_version__form=form).exists():
        raise ActionRefused(f"{form.name} is used by datasets: retire it instead of deleting it.")
    form.versions.all().delete()
    form.delete()
