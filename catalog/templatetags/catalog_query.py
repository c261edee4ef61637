"""Links that change one part of the catalog's query string and keep the rest."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()

# A new filter starts again at the first page.
PAGING = ("page", "after", "before")


def _params(context: dict[str, Any], changes: dict[str, Any]) -> Any:
    params = context["request"].GET.copy()
    if not set(changes) & set(PAGING):
        for key in PAGING:
            params.pop(key, None)
    return params


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """``?…`` with each named parameter set (or removed when empty or None)."""
    params = _params(context, changes)
    for key, value in changes.items():
        params.pop(key, None)
        if value not in (None, ""):
            params[key] = str(value)
    return f"?{params.urlencode()}"


@register.simple_tag(takes_context=True)
def query_toggle(context: dict[str, Any], key: str, value: Any) -> str:
    """``?…`` with ``value`` added to the repeated parameter ``key``, or taken out."""
    params = _params(context, {})
    values = [item for item in params.getlist(key) if item]
    value = str(value)
    values = [item for item in values if item != value] if value in values else [*values, value]
    params.setlist(key, values)
    return f"?{params.urlencode()}"
