"""The API token page: list one's tokens, make one (its key shown once), revoke one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..errors import ActionRefused, NotFound, refusal_of
from .forms import TokenCreateForm, TokenRevokeForm
from .services import api_token_create, api_token_revoke, api_tokens_of

TEMPLATE = "account/api_token.html"


# never_cache: the one page that carries the full key must not sit in a cache.
@never_cache
@require_http_methods(["GET", "POST"])
def api_token(request: HttpRequest) -> HttpResponse:
    """GET lists the user's tokens (never makes one); POST ``action=create|revoke``."""
    # Pages need login (LoginRequiredMiddleware): request.user is a user here.
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "create":
        return _create(request)
    if action == "revoke":
        return _revoke(request)
    if request.method == "POST":
        messages.error(request, "Unknown action: choose create or revoke.")
        return _page(request, TokenCreateForm(), status=400)
    return _page(request, TokenCreateForm())


def _create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        _, key = api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_at=form.expires_at(),
            read_only=form.cleaned_data["read_only"],
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
        return _page(request, form, status=refusal_of(exc).status)
    return _page(request, TokenCreateForm(), new_key=key)


def _revoke(request: HttpRequest) -> HttpResponse:
    form = TokenRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say which token to revoke.")
        return _page(request, TokenCreateForm(), status=400)
    try:
        token = api_token_revoke(user=request.user, token_id=form.cleaned_data["token"])
    except NotFound as exc:
        messages.error(request, str(exc))
        return _page(request, TokenCreateForm(), status=404)
    messages.success(request, f"The token {token.prefix}… was revoked.")
    return redirect("api_token")


def _page(
    request: HttpRequest, form: TokenCreateForm, *, new_key: str = "", status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {
        "tokens": list(api_tokens_of(request.user)),
        "form": form,
        "new_key": new_key,
        "example_url": request.build_absolute_uri(reverse("api:dataset_list")),
    }
    return render(request, TEMPLATE, context, status=status)
