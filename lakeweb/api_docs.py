"""The API docs page: the OpenAPI schema rendered here, with no CDN-loaded viewer.

Kept apart from ``lakeweb.api``: DRF imports that from settings, and
drf-spectacular's generator imports DRF's settings (a circular import).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .access import browse_required

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


class ErrorSerializer(serializers.Serializer):
    """The body of every error the API gives (``lakeweb.api``, ``lakeweb.http_errors``)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: as a class attribute "errors" would hide Serializer.errors.
        return {
            "detail": serializers.CharField(help_text="What went wrong, in words."),
            "errors": serializers.JSONField(
                required=False,
                help_text="400 on a body or query: the problems per field, each a list.",
            ),
        }


ERRORS = {
    400: "Bad input: `detail` says what is wrong (`errors` per field). Nothing was stored.",
    401: (
        "No token, a wrong one, or one that expired or was revoked (`detail` says which): "
        "send `Authorization: Token <key>` with a live key."
    ),
    403: (
        "Your role does not allow this, a read-only token tried to write, "
        "or the request was refused (the reason is given)."
    ),
    404: "Nothing you may see at this address: an unknown or malformed id.",
    409: "The state of the lake does not allow it (the reason is given). Nothing was stored.",
    413: "The body is larger than the API reads (API_MAX_BODY_BYTES).",
    415: "The body is not JSON (Content-Type: application/json).",
}


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """The error responses an operation can give, for ``@extend_schema(responses=...)``."""
    return {
        status: OpenApiResponse(response=ErrorSerializer, description=ERRORS[status])
        for status in statuses
    }


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
