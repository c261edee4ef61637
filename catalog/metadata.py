"""Admin-defined metadata forms turned into Django form fields.

A form version stores its fields as plain dicts (see ``field_definition``) so
that old datasets stay interpretable after the form is edited. This module
turns such a list into a ``django.forms.Form`` class used by the upload page
and by every service that validates metadata.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.validators import RegexValidator

from .models import FieldType, MetadataField


def field_definition(field: MetadataField) -> dict[str, Any]:
    """The JSON snapshot of one field kept in a form version."""
    return {
        "name": field.name,
        "prompt": field.prompt,
        "help_text": field.help_text,
        "type": field.field_type,
        "required": field.required,
        "choices": [line.strip() for line in field.choices.splitlines() if line.strip()],
        "default": field.default,
        "min": str(field.min_value) if field.min_value is not None else None,
        "max": str(field.max_value) if field.max_value is not None else None,
        "pattern": field.pattern,
    }


def _bounds(spec: dict[str, Any], cast: Callable[[str], Any]) -> dict[str, Any]:
    bounds = {}
    if spec.get("min") is not None:
        bounds["min_value"] = cast(spec["min"])
    if spec.get("max") is not None:
        bounds["max_value"] = cast(spec["max"])
    return bounds


def _text_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    validators = []
    if spec.get("pattern"):
        validators.append(
            RegexValidator(f"^(?:{spec['pattern']})$", f"Must match the pattern {spec['pattern']}.")
        )
    return {"validators": validators, "max_length": 10_000}


def _choices(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(choice, choice) for choice in spec.get("choices", [])]


def build_field(spec: dict[str, Any]) -> forms.Field:
    """One Django form field for one field definition."""
    common = {
        "label": spec["prompt"],
        "help_text": spec.get("help_text", ""),
        "required": bool(spec.get("required")) and spec["type"] != FieldType.BOOLEAN,
    }
    kind = spec["type"]
    if kind == FieldType.TEXT:
        return forms.CharField(**common, **_text_kwargs(spec))
    if kind == FieldType.LONG_TEXT:
        return forms.CharField(
            **common, widget=forms.Textarea(attrs={"rows": 3}), **_text_kwargs(spec)
        )
    if kind == FieldType.INTEGER:
        return forms.IntegerField(**common, **_bounds(spec, lambda v: int(decimal.Decimal(v))))
    if kind == FieldType.DECIMAL:
        return forms.DecimalField(**common, **_bounds(spec, decimal.Decimal))
    if kind == FieldType.DATE:
        return forms.DateField(**common, widget=forms.DateInput(attrs={"type": "date"}))
    if kind == FieldType.DATETIME:
        return forms.DateTimeField(
            **common, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
        )
    if kind == FieldType.BOOLEAN:
        return forms.BooleanField(**common)
    if kind == FieldType.CHOICE:
        return forms.ChoiceField(**common, choices=[("", "---------"), *_choices(spec)])
    if kind == FieldType.MULTIPLE_CHOICE:
        return forms.MultipleChoiceField(
            **common, choices=_choices(spec), widget=forms.CheckboxSelectMultiple
        )
    if kind == FieldType.URL:
        return forms.URLField(**common, assume_scheme="https")
    if kind == FieldType.EMAIL:
        return forms.EmailField(**common)
    raise ValueError(f"unknown field type {kind!r}")


def _initial(spec: dict[str, Any]) -> Any:
    default = spec.get("default") or None
    if default and spec["type"] == FieldType.MULTIPLE_CHOICE:
        return [part.strip() for part in default.split(",")]
    if default and spec["type"] == FieldType.BOOLEAN:
        return default.lower() in ("1", "true", "yes", "on")
    return default


def metadata_form_class(fields: list[dict[str, Any]]) -> type[forms.Form]:
    """A Form class for a form version's field list."""
    attrs: dict[str, Any] = {}
    for spec in fields:
        field = build_field(spec)
        field.initial = _initial(spec)
        attrs[spec["name"]] = field
    return type("MetadataValuesForm", (forms.Form,), attrs)


def to_json(value: Any) -> Any:
    """A cleaned form value as stored in the metadata JSON."""
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value
