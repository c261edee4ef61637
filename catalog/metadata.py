"""Admin-defined metadata forms turned into Django form fields.

A form version stores its fields as plain dicts (see ``field_definition``) so
that old datasets stay interpretable after the form is edited. This module
turns such a list into a ``django.forms.Form`` class used by the upload page
and by every service that validates metadata.
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.html import escape

from lakeweb.text import text_unstorable

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


TEXT_TYPES = (FieldType.TEXT, FieldType.LONG_TEXT)
NUMBER_TYPES = (FieldType.INTEGER, FieldType.DECIMAL)
CHOICE_TYPES = (FieldType.CHOICE, FieldType.MULTIPLE_CHOICE)
YES_WORDS = ("1", "true", "yes", "on", "y")
NO_WORDS = ("0", "false", "no", "off", "n")
BOUNDS = {"min_value": "min", "max_value": "max"}  # model field -> definition key
# The longest text a metadata value may be (forms' text fields, registered metadata).
METADATA_TEXT_MAX = 10_000


def yes_no(text: str) -> bool | None:
    """A yes/no answer typed as text (any case, spaces around) as a bool; None if it is none.

    The one reading of yes/no words: metadata sent to the API or ingested, a
    form's default, a searched value. (A checkbox's widget would take any
    non-empty text, "no" included, as ticked.)
    """
    word = text.strip().lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    return None


def _plain_decimal(value: str) -> decimal.Decimal:
    """``"2.500000"`` (as the database keeps a bound) read as ``2.5`` in messages."""
    return decimal.Decimal(format(decimal.Decimal(value).normalize(), "f"))


def _bounds(spec: dict[str, Any], cast: Callable[[str], Any]) -> dict[str, Any]:
    bounds = {}
    if spec.get("min") is not None:
        bounds["min_value"] = cast(spec["min"])
    if spec.get("max") is not None:
        bounds["max_value"] = cast(spec["max"])
    return bounds


class LongTextField(forms.CharField):
    """A textarea's text with its line breaks as LF: browsers send them as CRLF."""

    widget = forms.Textarea(attrs={"rows": 3})

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return text.replace("\r\n", "\n").replace("\r", "\n")


def _storable(value: str) -> None:
    # NUL has Django's own validator on every CharField, with its own message.
    if text_unstorable(value.replace("\x00", "")):
        raise ValidationError("Holds a character that is not UTF-8, which cannot be stored.")


def _text_kwargs(spec: dict[str, Any]) -> dict[str, Any]:
    validators: list[Callable[[str], None]] = [_storable]
    if spec.get("pattern"):
        validators.append(
            RegexValidator(
                rf"\A(?:{spec['pattern']})\Z", f"Must match the pattern {spec['pattern']}."
            )
        )
    return {"validators": validators, "max_length": METADATA_TEXT_MAX}


def _choices(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return [(choice, choice) for choice in spec.get("choices", [])]


def build_field(spec: dict[str, Any]) -> forms.Field:
    """One Django form field for one field definition."""
    common = {
        "label": spec["prompt"],
        # Django renders help text as HTML; an admin's text is shown as typed (SPEC §5).
        "help_text": escape(spec.get("help_text", "")),
        "required": bool(spec.get("required")) and spec["type"] != FieldType.BOOLEAN,
    }
    kind = spec["type"]
    if kind == FieldType.TEXT:
        return forms.CharField(**common, **_text_kwargs(spec))
    if kind == FieldType.LONG_TEXT:
        return LongTextField(**common, **_text_kwargs(spec))
    if kind == FieldType.INTEGER:
        return forms.IntegerField(**common, **_bounds(spec, lambda v: int(decimal.Decimal(v))))
    if kind == FieldType.DECIMAL:
        return forms.DecimalField(**common, **_bounds(spec, _plain_decimal))
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
        return forms.URLField(**common, assume_scheme="https", validators=[_storable])
    if kind == FieldType.EMAIL:
        return forms.EmailField(**common, validators=[_storable])
    raise ValueError(f"unknown field type {kind!r}")


def _initial(spec: dict[str, Any]) -> Any:
    default = spec.get("default") or None
    if default and spec["type"] == FieldType.MULTIPLE_CHOICE:
        return [part.strip() for part in default.split(",")]
    if default and spec["type"] == FieldType.BOOLEAN:
        return bool(yes_no(default))
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
        return format(value, "f")  # "1000", never "1E+3"
    return value


def _number(value: str | None) -> decimal.Decimal | None:
    try:
        return None if value is None else decimal.Decimal(value)
    except decimal.InvalidOperation:
        return None  # the model field reports a malformed number itself


def _choice_errors(spec: dict[str, Any]) -> dict[str, str]:
    if spec["type"] in CHOICE_TYPES and not spec["choices"]:
        return {"choices": "List at least one choice, one per line."}
    if spec["type"] not in CHOICE_TYPES and spec["choices"]:
        return {"choices": "Choices apply to choice and multiple choice fields only."}
    return {}


def _bound_errors(spec: dict[str, Any]) -> dict[str, str]:
    numbers = {key: _number(spec[bound]) for key, bound in BOUNDS.items()}
    given = {key: value for key, value in numbers.items() if value is not None}
    if given and spec["type"] not in NUMBER_TYPES:
        return dict.fromkeys(given, "Minimum and maximum apply to integer and decimal fields only.")
    errors = {}
    if spec["type"] == FieldType.INTEGER:
        errors = {
            key: "An integer field takes whole-number bounds."
            for key, value in given.items()
            if value != value.to_integral_value()
        }
    if len(given) == 2 and given["min_value"] > given["max_value"]:
        errors["min_value"] = "The minimum is greater than the maximum."
    return errors


def _pattern_errors(spec: dict[str, Any]) -> dict[str, str]:
    if not spec["pattern"]:
        return {}
    if spec["type"] not in TEXT_TYPES:
        return {"pattern": "A pattern applies to text and long text fields only."}
    try:
        re.compile(spec["pattern"])
    except re.error as exc:
        return {"pattern": f"Not a valid regular expression: {exc}."}
    return {}


def _required_errors(spec: dict[str, Any]) -> dict[str, str]:
    if spec["type"] == FieldType.BOOLEAN and spec["required"]:
        return {"required": "A yes/no field cannot be required: unticked is a valid answer (no)."}
    return {}


def _default_errors(spec: dict[str, Any]) -> dict[str, list[str]]:
    """The default must be a value the field itself would accept."""
    if not spec["default"]:
        return {}
    if spec["type"] == FieldType.BOOLEAN:
        if yes_no(spec["default"]) is not None:
            return {}
        return {"default": [f"A yes/no default is one of: {', '.join(YES_WORDS + NO_WORDS)}."]}
    try:
        build_field({**spec, "required": False}).clean(_initial(spec))
    except ValidationError as exc:
        return {"default": exc.messages}
    return {}


def field_definition_check(spec: dict[str, Any]) -> None:
    """Refuse a definition the upload form could not honour, keyed by model field.

    A choice with no choices, min above max or a broken regular expression
    would otherwise only show up when a member uploads (SPEC §5).
    """
    if spec["type"] not in FieldType.values:
        return  # the model field reports an unknown type itself
    errors: dict[str, Any] = {}
    for check in (_choice_errors, _bound_errors, _pattern_errors, _required_errors):
        errors.update(check(spec))
    if not errors:  # a default is only checked against a field that can be built
        errors.update(_default_errors(spec))
    if errors:
        raise ValidationError(errors)
