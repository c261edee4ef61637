"""allauth's second-factor forms, with each authenticator-app period good for one sign-in.

allauth remembers a used code in the cache only: per process without
``CACHE_URL``, and forgotten while a shared cache is down. The period of the
last accepted code is kept on the authenticator's row instead, under a row
lock, so a code (or any code of an earlier period) is refused a second time
whichever process and whatever the cache.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa import app_settings
from allauth.mfa.adapter import get_adapter
from allauth.mfa.base.forms import AuthenticateForm as AllauthAuthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as AllauthReauthenticateForm
from allauth.mfa.models import Authenticator
from django.db import transaction

LAST_STEP = "lakeweb_last_step"


def totp_step_claim(authenticator: Authenticator) -> bool:
    """Claim the current TOTP period for ``authenticator``; False if it (or a later one)
    was claimed already: its code has been used."""
    step = int(time.time()) // app_settings.TOTP_PERIOD
    with transaction.atomic():
        row = Authenticator.objects.select_for_update().get(pk=authenticator.pk)
        if step <= int(row.data.get(LAST_STEP, -1)):
            return False
        row.data[LAST_STEP] = step
        row.save(update_fields=["data"])
    return True


class OncePerPeriodMixin:
    """After allauth's check of the code, refuse an app code whose period was used."""

    def clean_code(self) -> str:
        code: str = super().clean_code()  # type: ignore[misc]
        used: Any = self.authenticator  # type: ignore[attr-defined]
        if used.type == Authenticator.Type.TOTP and not totp_step_claim(used):
            self._emit_authentication_failed(used)  # type: ignore[attr-defined]
            raise get_adapter().validation_error("incorrect_code")
        return code


class AuthenticateForm(OncePerPeriodMixin, AllauthAuthenticateForm):
    """The second step of a sign-in."""


class ReauthenticateForm(OncePerPeriodMixin, AllauthReauthenticateForm):
    """A second factor asked again before a sensitive change."""
