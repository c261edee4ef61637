"""Two-factor sign-in (allauth.mfa): who must have a second factor, and the admin's reset.

With ``LAKEWEB_MFA_REQUIRED_FOR_STAFF`` on (the default), staff and curators
who have no authenticator app or security key are sent to set one up before
any other page; sign-out and allauth's MFA pages stay open to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from .audit.services import audit_event
from .roles import CURATOR

# Pages a user who must enrol may still open: allauth's MFA pages (their names
# start with "mfa_"), sign-out, and the password check activation may ask for.
OPEN_WHILE_ENROLLING = {"account_logout", "account_reauthenticate", "account_login"}
# The session remembers that this user passed the check (cleared by each sign-in).
CHECKED_KEY = "lakeweb.mfa_checked"
SETUP_MESSAGE = "Your role needs two-factor sign-in: set up an authenticator app to go on."


def mfa_required(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether the site asks ``user`` for a second factor: staff and curators, when
    ``LAKEWEB_MFA_REQUIRED_FOR_STAFF`` is on."""
    if not (settings.LAKEWEB_MFA_REQUIRED_FOR_STAFF and isinstance(user, User)):
        return False
    return user.is_staff or user.groups.filter(name=CURATOR).exists()


def mfa_missing(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Whether ``user`` must set up a second factor before going on."""
    return mfa_required(user) and not is_mfa_enabled(user)


@transaction.atomic
def mfa_reset(*, user: User, actor: User | None) -> int:
    """Remove every authenticator of ``user`` (a lost phone or key); returns how many.

    Recorded in the audit trail with ``actor``; the user signs in with a
    password alone next time and, if their role needs it, sets up a new one."""
    count, _ = Authenticator.objects.filter(user=user).delete()
    audit_event(subject=user, event="second factor reset", actor=actor, details={"removed": count})
    return count


class MFARequiredMiddleware:
    """Send staff and curators without a second factor to set one up (pages), or refuse
    them with a 403 (the API by session; token requests are not signed in here)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Any, args: Any, kwargs: Any) -> Any:
        if not settings.LAKEWEB_MFA_REQUIRED_FOR_STAFF or not request.user.is_authenticated:
            return None
        if request.session.get(CHECKED_KEY) == request.user.pk:
            return None
        match = request.resolver_match
        name = match.url_name if match else ""
        if name in OPEN_WHILE_ENROLLING or (name or "").startswith("mfa_"):
            return None
        if mfa_missing(request.user):
            return self._refuse(request)
        request.session[CHECKED_KEY] = request.user.pk
        return None

    def _refuse(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": SETUP_MESSAGE}, status=403)
        messages.warning(request, SETUP_MESSAGE)
        return redirect("mfa_activate_totp")
