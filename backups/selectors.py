"""Backup reads."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import BackupJob


def backup_jobs_recent(*, limit: int = 100) -> QuerySet[BackupJob]:
    return BackupJob.objects.select_related("triggered_by").order_by("-created_at")[:limit]
