"""API token self-service: see, create (or regenerate) and revoke one's own token.

Scripts authenticate to the API with ``Authorization: Token <key>``
(``rest_framework.authtoken``, one token per user). The full key is shown
once, in the reply to the POST that made it; afterwards only its first
characters, enough to tell which token a script holds.
"""

from __future__ import annotations

import logging
from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

logger = logging.getLogger(__name__)

SHOWN_CHARACTERS = 8


@transaction.atomic
def api_token_create(*, user: User) -> Token:
    """A new token for ``user``; the one they had stops working."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    logger.info("API token created for user %s", user.pk)
    return token


def api_token_revoke(*, user: User) -> bool:
    """Delete the user's token; False when they had none."""
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        logger.info("API token revoked for user %s", user.pk)
    return bool(deleted)


# never_cache: the one page that carries the full key must not sit in a cache.
@never_cache
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """GET shows the token's state (never makes one); POST ``action=create|revoke``."""
    user = cast(User, request.user)  # pages need login (LoginRequiredMiddleware)
    new_key = ""
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            new_key = api_token_create(user=user).key
        elif action == "revoke":
            revoked = api_token_revoke(user=user)
            messages.success(
                request, "Your API token was revoked." if revoked else "You had no API token."
            )
            return redirect("api_token")
        else:
            status = 400
            messages.error(request, "Unknown action: choose create or revoke.")
    token = Token.objects.filter(user=user).first()
    context = {
        "token": token,
        "shown": token.key[:SHOWN_CHARACTERS] if token else "",
        "new_key": new_key,
        "example_url": request.build_absolute_uri(reverse("api:dataset_list")),
    }
    return render(request, "account/api_token.html", context, status=status)
