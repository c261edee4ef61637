"""What every API endpoint shares: permissions, pagination, errors.

Each app's ``api.py`` holds its endpoints; ``lakeweb/api_urls.py`` routes them.
Errors are always JSON with a ``detail`` message (SPEC §5).
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.views import exception_handler as drf_exception_handler

from .access import can_browse
from .errors import refusal_of
from .http_errors import NOT_FOUND

WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class Pagination(PageNumberPagination):
    """Numbered pages; ``page`` and ``page_size`` are refused when no whole number, not ignored."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # Digits only, and few: int() would take "²", " 5", "1_0" and 4,000 digits.
        if not WHOLE_NUMBER.fullmatch(raw):
            raise exceptions.ValidationError({"page_size": ["Enter a whole number."]})
        size = int(raw)
        if size < 1:
            raise exceptions.ValidationError({"page_size": ["Ask for at least 1 item a page."]})
        return min(size, self.max_page_size)

    def get_page_number(self, request: Any, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        if not WHOLE_NUMBER.fullmatch(raw) or raw.strip("0") == "":
            raise exceptions.ValidationError({"page": ["Enter a whole number from 1."]})
        return int(raw)  # past the last page: DRF's 404


class CanBrowse(BasePermission):
    """Reads: viewers and up (anonymous too with public browsing); writes need a login.

    What a write may do is then the service's own check (a refusal, ``lakeweb.errors``).
    """

    message = "Your account has no role yet: ask an admin to make you a viewer."

    def has_permission(self, request: Any, view: Any) -> bool:
        if request.method not in SAFE_METHODS and not request.user.is_authenticated:
            return False
        return can_browse(request.user)


class Refused(exceptions.APIException):
    """A service's refusal, with the status ``lakeweb.errors`` gives it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status


def _flatten(detail: Any, field: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [line for key, value in detail.items() for line in _flatten(value, str(key))]
    if isinstance(detail, list):
        return [line for item in detail for line in _flatten(item, field)]
    prefix = f"{field}: " if field and field != "non_field_errors" else ""
    return [f"{prefix}{detail}"]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """Refusals get the status ``lakeweb.errors`` gives; validation errors gain a ``detail``."""
    refusal = refusal_of(exc)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.messages)
    elif refusal is not None:
        exc = Refused(refusal.status, refusal.message)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": " ".join(_flatten(exc.detail)), "errors": exc.detail}
    return response


# Exempt: a forged request to an address that does nothing is answered 404, not 403.
@csrf_exempt
@login_not_required
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other address under /api/ (a malformed id too): JSON, not the HTML 404 page."""
    return JsonResponse({"detail": NOT_FOUND}, status=404)
