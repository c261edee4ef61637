"""API token authentication that records each token's use in the audit trail.

The one place token use is hooked: whichever token check the API uses (DRF's,
or lakeweb's own) calls :func:`audit_token_use` once it has the user.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication

from .services import audit_actor_set, audit_event, client_address


def audit_token_use(*, request: HttpRequest, token: Any) -> None:
    """Record that ``token`` signed a request: once per token and address in each
    ``AUDIT_TOKEN_USE_SECONDS`` (a row per API call would outgrow what it tells)."""
    user = token.user
    audit_actor_set(user)
    address = client_address(request) or "-"
    # Hashed: with DRF's tokens the primary key is the key itself, no cache holds it.
    digest = hashlib.sha256(f"{token.pk}|{address}".encode()).hexdigest()
    key = f"lakeweb:audit:token:{digest}"
    if not cache.add(key, 1, timeout=settings.AUDIT_TOKEN_USE_SECONDS):
        return
    audit_event(
        subject=user,
        event="API token used",
        actor=user,
        details={"token": str(token.pk)[:8], "path": request.path[:200]},
    )


class AuditedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with each use audited (see :func:`audit_token_use`)."""

    def authenticate(self, request: Any) -> Any:
        result = super().authenticate(request)
        if result is not None:
            audit_token_use(request=request._request, token=result[1])
        return result
