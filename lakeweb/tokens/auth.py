"""The API's token authentication: ``Authorization: Token <key>``, checked against digests.

The read-only scope is enforced here rather than by a permission class:
every endpoint sets its own ``permission_classes``, but every API request
passes through authentication, so no endpoint can forget it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import SAFE_METHODS

from lakeweb.audit.tokens import audit_token_use

from .services import TokenRefused, api_token_authenticate

READ_ONLY = "This token is read-only: it may read (GET) but not change anything."


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing and ``WWW-Authenticate: Token`` (so failures are 401), our lookup."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        if result[1].read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(READ_ONLY)
        audit_token_use(request=request._request, token=result[1])
        return result

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        try:
            token = api_token_authenticate(key=key)
        except TokenRefused as refusal:
            raise exceptions.AuthenticationFailed(str(refusal)) from None
        return token.user, token
