"""Backups page: jobs with status, counts, bytes and errors; a trigger button."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required
from lakeweb.errors import PermissionRefused
from lakeweb.jobs.selectors import job_message

from .models import BackupKind
from .selectors import backup_jobs_recent, backup_schedules
from .services import backup_request


@permission_required("backups.view_backupjob", "Only curators and admins can see backups.")
def backup_list(request: HttpRequest) -> HttpResponse:
    jobs = backup_jobs_recent()
    can_trigger = request.user.has_perm("backups.trigger_backup")
    context = {"jobs": jobs, "can_trigger": can_trigger, "schedules": backup_schedules()}
    return render(request, "backups/backup_list.html", context)


@require_POST
@permission_required("backups.trigger_backup", "Only curators and admins can trigger backups.")
def backup_trigger(request: HttpRequest) -> HttpResponse:
    try:
        backup = backup_request(kind=BackupKind.MANUAL, user=request.user)
    except PermissionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, f"Backup: {job_message(backup.job)} This page shows its progress."
        )
    return redirect("backups:backup_list")
