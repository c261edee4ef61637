"""Which models the audit trail follows, field by field (django-auditlog).

Every model an admin edits in Django admin is here, so that a change made
there names its author and address (``lakeweb/tests/test_audit.py`` holds
every editable admin model to it). Records of work done (jobs, promotions,
backups, provenance) are not: they are append-only and read-only already, and
a job request is recorded once, when it is made (``job_request``).
"""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from django.apps import apps

# app label.model -> registration options. Secrets are never copied into the trail:
# a password change shows as masked, an authenticator's data (its secret) not at all.
AUDITED: dict[str, dict[str, Any]] = {
    "auth.user": {
        "m2m_fields": {"groups", "user_permissions"},  # memberships and direct grants
        "mask_fields": ["password"],
        "mask_callable": "lakeweb.audit.registry.hidden",
        "exclude_fields": ["last_login"],  # each sign-in is its own entry (receivers)
    },
    "auth.group": {"m2m_fields": {"permissions"}},
    "account.emailaddress": {},
    "mfa.authenticator": {"exclude_fields": ["data"]},
    # Made, revoked, expiry and scope; never the key's digest, nor each use's time
    # (uses are their own entries, audit_token_use).
    "lakeweb.apitoken": {"exclude_fields": ["digest", "last_used_at"]},
    "catalog.source": {},
    "catalog.tag": {},
    "catalog.metadataform": {},
    "catalog.metadatafield": {},
    # Beat writes these on every run it makes: a schedule's change is what an admin did.
    "django_celery_beat.periodictask": {
        "exclude_fields": ["last_run_at", "total_run_count", "date_changed"]
    },
    "django_celery_beat.crontabschedule": {},
    "django_celery_beat.intervalschedule": {},
    "django_celery_beat.solarschedule": {},
    "django_celery_beat.clockedschedule": {},
}


def hidden(value: str) -> str:
    """What the trail shows of a masked field: that it changed, nothing of its value
    (auditlog's own mask keeps half of a password hash)."""
    return "(hidden)" if value and value != "None" else value


def audit_register() -> None:
    """Follow every model of :data:`AUDITED` (called once, from the app's ``ready``)."""
    for label, options in AUDITED.items():
        model = apps.get_model(label)
        if not auditlog.contains(model):
            auditlog.register(model, **options)
