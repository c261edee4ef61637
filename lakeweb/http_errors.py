"""Django's own error answers (400, 403, 404, 500, CSRF): JSON under /api/, pages elsewhere.

DRF's views answer their errors in JSON themselves (``lakeweb.api``); these
cover what happens before or outside them: a request Django refuses (an
oversize body, a forged request), an address no route takes, an unexpected
error. A script that talks to /api/ then always reads ``{"detail": ...}``
(SPEC §5).
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


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(detail: str, status: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400, for a request it refused (an oversize body is a 413 on the API)."""
    if is_api(request):
        refusal = refusal_of(exception)
        if refusal is None:
            return _json(BAD_REQUEST, 400)
        return _json(refusal.message, refusal.status)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(str(exception) or FORBIDDEN, 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return _json(NOT_FOUND, 404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return _json(SERVER_ERROR, 500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "", **kwargs: Any) -> HttpResponse:
    if is_api(request):
        return _json(f"{CSRF_REFUSED} ({reason})" if reason else CSRF_REFUSED, 403)
    return csrf.csrf_failure(request, reason=reason, **kwargs)
