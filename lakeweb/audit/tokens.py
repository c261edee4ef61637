"""Each API token's use, recorded in the audit trail.

The API's token check (``lakeweb.tokens.auth``) calls :func:`audit_token_use`
once it has the token.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from .services import audit_actor_set, audit_event, client_address


def audit_token_use(*, request: HttpRequest, token: Any) -> None:
    """Record that ``token`` signed a request: once per token and address in each
    ``AUDIT_TOKEN_USE_SECONDS`` (a row per API call would outgrow what it tells)."""
    user = token.user
    audit_actor_set(user)
    address = client_address(request) or "-"
    # Hashed: the cache holds no token id with an address in the clear.
    digest = hashlib.sha256(f"{token.pk}|{address}".encode()).hexdigest()
    key = f"lakeweb:audit:token:{digest}"
    if not cache.add(key, 1, timeout=settings.AUDIT_TOKEN_USE_SECONDS):
        return
    audit_event(
        subject=user,
        event="API token used",
        actor=user,
        details={"token": token.prefix, "path": request.path[:200]},
    )
