"""The request's actor and address for every audit entry written while it runs."""

from __future__ import annotations

from typing import Any

from auditlog.middleware import AuditlogMiddleware
from django.http import HttpRequest

from .services import client_address


class AuditMiddleware(AuditlogMiddleware):
    """django-auditlog's middleware, with the address taken the way allauth's rate
    limits take it: auditlog's own reads X-Forwarded-For from any client, which
    would let anyone write the address of their choice into the trail."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return client_address(request)

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> Any:
        return None  # a port behind a proxy is the proxy's; it tells nothing
