"""Two-factor helpers for tests: enrol a user, and the codes their app would show."""

from __future__ import annotations

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

PERIOD = 30


def totp_code(secret: str, *, steps: int = 0) -> str:
    """The code an authenticator app shows now (``steps`` periods away from now)."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // PERIOD + steps))


def enrol(user) -> tuple[str, list[str]]:
    """Give ``user`` an authenticator app and recovery codes; the secret and the codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    return secret, codes


def second_factors(user) -> int:
    return Authenticator.objects.filter(user=user).count()
