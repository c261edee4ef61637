"""Making, checking and revoking API tokens, and the reads the token page needs."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..errors import ActionRefused, NotFound
from .models import ApiToken

logger = logging.getLogger(__name__)

KEY_MARK = "lw_"  # tells a lakeweb key apart in a script or a leaked log
SHOWN_CHARACTERS = len(KEY_MARK) + 8
MAX_KEY_LENGTH = 128  # longer is no key of ours: refused before hashing
MAX_LIVE_TOKENS = 20  # unexpired and unrevoked, per user: the page lists them all
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at costs at most one write a minute


class TokenRefused(Exception):
    """The key is unknown, revoked or expired: the request is not authenticated (401)."""


def key_digest(key: str) -> str:
    """The SHA-256 a key is stored as."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_tokens_of(user: Any) -> QuerySet[ApiToken]:
    """The user's tokens not revoked, newest first (expired ones too, marked on the page)."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True)


@transaction.atomic
def api_token_create(
    *, user: Any, name: str = "", expires_at: datetime | None = None, read_only: bool = False
) -> tuple[ApiToken, str]:
    """A new token and its key; the key is returned here once and stored only as its digest."""
    # Lock the user's row: two concurrent requests cannot both pass the count.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    unexpired = Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    if api_tokens_of(user).filter(unexpired).count() >= MAX_LIVE_TOKENS:
        raise ActionRefused(
            f"You have {MAX_LIVE_TOKENS} tokens already: revoke one you no longer use first."
        )
    key = KEY_MARK + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:SHOWN_CHARACTERS],
        digest=key_digest(key),
        read_only=read_only,
        expires_at=expires_at,
    )
    logger.info("API token %s created for user %s", token.prefix, user.pk)
    return token, key


def api_token_revoke(*, user: Any, token_id: int) -> ApiToken:
    """Revoke one of the user's own live tokens; another's, or none, is NotFound."""
    token = api_tokens_of(user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("You have no live token with this id.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    logger.info("API token %s revoked by user %s", token.prefix, user.pk)
    return token


def api_tokens_revoke(*, tokens: QuerySet[ApiToken]) -> int:
    """Revoke the given tokens (the admin's action); how many were live."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())


def api_token_authenticate(*, key: str) -> ApiToken:
    """The live token with this key, its user loaded; TokenRefused says why not."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise TokenRefused("Invalid token.")
    token = ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
    if token is None:
        raise TokenRefused("Invalid token.")
    now = timezone.now()
    if token.revoked_at is not None:
        raise TokenRefused("This token was revoked: make a new one on the API token page.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused(
            f"This token expired at {token.expires_at:%Y-%m-%d %H:%M} UTC: "
            "make a new one on the API token page."
        )
    if not token.user.is_active:
        raise TokenRefused("User inactive or deleted.")
    _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime) -> None:
    # A busy script would otherwise write a row per request; the filter keeps
    # concurrent requests from writing more than one of them.
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
