"""An API token: never its key, only the key's SHA-256 and a visible prefix."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """One key a user's scripts send as ``Authorization: Token <key>``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for.")
    # The key's first characters, shown so that a user can tell which key a script holds.
    prefix = models.CharField(max_length=16)
    # SHA-256 of the key, hex. The key has 256 random bits, so a plain digest
    # suffices (no salt or slow hash: nothing to guess from a dictionary).
    digest = models.CharField(max_length=64, unique=True, editable=False)
    read_only = models.BooleanField(
        default=False, help_text="Only reads (GET, HEAD, OPTIONS); writes are refused with 403."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Updated at most once a minute (lakeweb.tokens.services.TOUCH_EVERY).
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "revoked_at"], name="apitoken_user_live")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
