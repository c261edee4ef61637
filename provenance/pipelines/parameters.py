"""A pipeline's parameters: bounded, then validated by the metadata form code."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from catalog.metadata import METADATA_TEXT_MAX, metadata_form_class
from catalog.models import FieldType
from catalog.services import values_clean

from .registry import MAX_PARAMETERS, Pipeline

MAX_LIST_ITEMS = 200
SCALARS = (str, int, float, bool, type(None))


def parameters_form(spec: Pipeline, data: Any = None) -> forms.Form:
    """The page's form for a pipeline's parameters: the metadata form class, prefixed."""
    return metadata_form_class(list(spec.parameters))(data=data, prefix="param")


def _defaults(spec: Pipeline) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for definition in spec.parameters:
        default = definition.get("default") or ""
        if not default:
            continue
        if definition["type"] == FieldType.MULTIPLE_CHOICE:
            values[definition["name"]] = [part.strip() for part in default.split(",")]
        else:
            values[definition["name"]] = default
    return values


def _shape_problems(spec: Pipeline, values: Any) -> list[str]:
    """What is wrong before any form sees it: not an object, unknown keys, nesting, size."""
    if not isinstance(values, dict):
        return ["Parameters must be a JSON object of name: value."]
    if len(values) > MAX_PARAMETERS:
        return [f"At most {MAX_PARAMETERS} parameters."]
    kinds = {definition["name"]: definition["type"] for definition in spec.parameters}
    problems = []
    for name, value in values.items():
        shown = str(name)[:64]
        if name not in kinds:
            known = ", ".join(kinds) or "none"
            problems.append(
                f"'{shown}' is not a parameter of {spec.name}; its parameters: {known}."
            )
        elif isinstance(value, list) and kinds[name] == FieldType.MULTIPLE_CHOICE:
            if len(value) > MAX_LIST_ITEMS or not all(isinstance(item, str) for item in value):
                problems.append(f"{shown}: a list of at most {MAX_LIST_ITEMS} texts.")
        elif not isinstance(value, SCALARS):
            problems.append(
                f"{shown}: a single value (text, number or yes/no), not a list or object."
            )
        elif isinstance(value, str) and len(value) > METADATA_TEXT_MAX:
            problems.append(f"{shown}: at most {METADATA_TEXT_MAX} characters.")
    return problems


def parameters_clean(*, spec: Pipeline, values: Any) -> dict[str, Any]:
    """JSON-ready parameters with defaults filled in; ValidationError lists every fault."""
    problems = _shape_problems(spec, values)
    if problems:
        raise ValidationError(problems)
    return values_clean(fields=list(spec.parameters), values={**_defaults(spec), **values})
