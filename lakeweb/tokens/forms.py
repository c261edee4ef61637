"""The token page's form: a name, an optional expiry in days, an optional read-only scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone

MAX_DAYS = 3650


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="What it is for, e.g. “nightly sync on lab-pc”."
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        label="Expires after (days)",
        help_text=f"1 to {MAX_DAYS}; leave empty for a token that does not expire.",
    )
    read_only = forms.BooleanField(
        required=False,
        label="Read-only",
        help_text="It may read but not upload, promote or delete.",
    )

    def expires_at(self) -> datetime | None:
        days = self.cleaned_data["expires_in_days"]
        return timezone.now() + timedelta(days=days) if days else None


class TokenRevokeForm(forms.Form):
    token = forms.IntegerField(min_value=1, max_value=2**63 - 1)
