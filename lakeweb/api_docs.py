"""The API docs page: the OpenAPI schema rendered here, with no CDN-loaded viewer.

Kept apart from ``lakeweb.api``: DRF imports that from settings, and
drf-spectacular's generator imports DRF's settings (a circular import).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator

from .access import browse_required

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _operations(schema: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {
            "path": path,
            "method": method.upper(),
            "summary": operation.get("summary", ""),
            "description": operation.get("description", ""),
        }
        for path, item in schema.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


@browse_required
def api_docs(request: HttpRequest) -> HttpResponse:
    """Every endpoint with its method and summary, from the same schema /api/schema/ serves."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    context = {"info": schema.get("info", {}), "operations": _operations(schema)}
    return render(request, "api/docs.html", context)
