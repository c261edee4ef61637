"""Django's own error answers (400, 403, 404, 500, CSRF): JSON to scripts, pages elsewhere.

DRF's views answer their errors in JSON themselves (``lakeweb.api``); these
cover what happens before or outside them: a request Django refuses (an
oversize body, a forged request), an address no route takes, an unexpected
error. A script that talks to /api/ then always reads ``{"detail": ...}``
(SPEC §5). The upload page's own protocol asks for JSON (``Accept``) and
reads its refusals as ``{"errors": [...]}``, so its answers carry both.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults

from .errors import refusal_of

API_PREFIX = "/api/"

SERVER_ERROR = "Server error: the request was not carried out. It has been logged; try again later."
BAD_REQUEST = "Bad request: the server refused it as malformed (its Host header, say)."
FORBIDDEN = "Forbidden: you may not do this."
NOT_FOUND = "Not found: no API endpoint or object at this address (ids are UUIDs)."
CSRF_REFUSED = (
    "CSRF check failed: a request with the session cookie needs the CSRF token; "
    "scripts send 'Authorization: Token <key>' and no cookie."
)


def wants_json(request: HttpRequest) -> bool:
    """Whether the request wants its errors in JSON: the API, or a script that asks for it."""
    if request.path.startswith(API_PREFIX):
        return True
    accept = request.headers.get("Accept", "")
    return accept.split(",", 1)[0].split(";", 1)[0].strip() == "application/json"


def _json(request: HttpRequest, detail: str, status: int) -> JsonResponse:
    body: dict[str, Any] = {"detail": detail}
    if not request.path.startswith(API_PREFIX):
        body["errors"] = [detail]  # the upload protocol's shape
    return JsonResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400, for a request it refused (an oversize body is a 413 on the API)."""
    if wants_json(request):
        refusal = refusal_of(exception)
        if refusal is None:
            return _json(request, BAD_REQUEST, 400)
        return _json(request, refusal.message, refusal.status)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return _json(request, str(exception) or FORBIDDEN, 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if wants_json(request):
        return _json(request, NOT_FOUND, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return _json(request, SERVER_ERROR, 500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> HttpResponse:
    if wants_json(request):
        return _json(request, f"{CSRF_REFUSED} ({reason})" if reason else CSRF_REFUSED, 403)
    return csrf.csrf_failure(request, reason=reason, **kwargs)
