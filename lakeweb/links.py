"""Absolute links for what leaves the site (emails): LAKEWEB_SITE_URL and a view's path."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse


def site_link(viewname: str, *args: Any) -> str:
    """``LAKEWEB_SITE_URL`` + the view's path: a link a mail reader can follow."""
    return settings.LAKEWEB_SITE_URL.rstrip("/") + reverse(viewname, args=args)
