"""Audit entries lakeweb writes itself: sign-ins, token use, job requests, MFA resets.

Changes to audited models are recorded by django-auditlog's signals
(``registry``); these are the events that are not a row's change. Each entry
names its actor and, inside a request, the client's address (set by
``AuditMiddleware`` from allauth's client-IP rule).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from allauth.account.adapter import get_adapter
from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# object_repr of an entry about a name someone typed (a failed sign-in): kept short.
MAX_REPR = 200


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address by the account adapter's rule (REMOTE_ADDR, or behind the
    proxies of ``LAKEWEB_TRUSTED_PROXIES`` their X-Forwarded-For entry); None if unknown."""
    try:
        address = get_adapter(request).get_client_ip(request)
    except (PermissionDenied, ImproperlyConfigured):
        address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def audit_actor_set(user: AbstractBaseUser | AnonymousUser) -> None:
    """Name ``user`` as the actor of what the current request changes from now on.

    For API requests authenticated by token, which the middleware sees as
    anonymous (DRF authenticates in the view, after it)."""
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    if isinstance(user, User):
        context["actor"] = user


def audit_event(
    *,
    subject: models.Model | type[models.Model],
    event: str,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
    label: str = "",
) -> LogEntry:
    """Record ``event`` (e.g. ``"sign-in"``) about ``subject``: a row, or a model when no row
    is known (a failed sign-in for an unknown email). ``label`` names the subject then."""
    is_row = isinstance(subject, models.Model)
    content_type = ContentType.objects.get_for_model(subject)
    pk = str(subject.pk) if is_row else ""
    return LogEntry.objects.create(
        content_type=content_type,
        object_pk=pk,
        object_id=subject.pk if is_row and isinstance(subject.pk, int) else None,
        object_repr=(label or (str(subject) if is_row else ""))[:MAX_REPR],
        action=LogEntry.Action.ACCESS,
        changes={"event": [None, event]},
        changes_text=event,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_email=getattr(actor, "email", None) if actor is not None else None,
        additional_data={"event": event, **(details or {})},
    )
