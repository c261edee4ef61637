"""Sign-ins, sign-outs, failed sign-ins and second-factor events, into the audit trail.

Django's auth signals fire for every way in (allauth's login, the admin's);
allauth's MFA signals tell a wrong second factor from a wrong password.
"""

from __future__ import annotations

from typing import Any

from allauth.mfa import signals as mfa_signals
from django.contrib.auth import get_user_model
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.models import User

from .services import audit_event


def _signed_in(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_event(subject=user, event="sign-in", actor=user)


def _signed_out(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        audit_event(subject=user, event="sign-out", actor=user)


def _sign_in_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    # The name as typed (Django has already masked the password); bounded by audit_event.
    typed = str(credentials.get("email") or credentials.get("username") or "")
    audit_event(subject=get_user_model(), event="failed sign-in", label=typed)


def _second_factor_failed(sender: Any, user: User, authenticator: Any, **kwargs: Any) -> None:
    kind = getattr(authenticator, "type", "")
    audit_event(subject=user, event="failed second factor", details={"authenticator": kind})


def _second_factor_used(sender: Any, user: User, authenticator: Any, **kwargs: Any) -> None:
    kind = getattr(authenticator, "type", "")
    audit_event(
        subject=user, event="second factor used", actor=user, details={"authenticator": kind}
    )


def audit_receivers_connect() -> None:
    """Connect the receivers (once, from the app's ``ready``)."""
    auth_signals.user_logged_in.connect(_signed_in, dispatch_uid="lakeweb-audit-in")
    auth_signals.user_logged_out.connect(_signed_out, dispatch_uid="lakeweb-audit-out")
    auth_signals.user_login_failed.connect(_sign_in_failed, dispatch_uid="lakeweb-audit-failed")
    mfa_signals.authentication_failed.connect(
        _second_factor_failed, dispatch_uid="lakeweb-audit-mfa-failed"
    )
    mfa_signals.authenticator_used.connect(
        _second_factor_used, dispatch_uid="lakeweb-audit-mfa-used"
    )
