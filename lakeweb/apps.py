"""The project package as an app: the jobs' metrics, and the audit trail's wiring."""

from __future__ import annotations

from django.apps import AppConfig


class LakewebConfig(AppConfig):
    name = "lakeweb"
    verbose_name = "lakeweb"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .audit.receivers import audit_receivers_connect
        from .audit.registry import audit_register
        from .jobs import metrics  # noqa: F401 - registers the jobs' numbers for /metrics

        audit_register()
        audit_receivers_connect()
