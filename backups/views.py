"""Backups page: snapshots with status, counts, bytes new and reused, errors; a trigger
button; restore buttons (a whole snapshot, or one dataset) for curators."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required
from lakeweb.errors import ActionRefused, PermissionRefused
from lakeweb.jobs.selectors import job_message

from .models import BackupKind
from .selectors import backup_jobs_recent, backup_schedules, drill_last, restore_jobs_recent
from .services import backup_request, restore_request
from .services.drill import drill_request


@permission_required("backups.view_backupjob", "Only curators and admins can see backups.")
def backup_list(request: HttpRequest) -> HttpResponse:
    jobs = backup_jobs_recent()
    can_trigger = request.user.has_perm("backups.trigger_backup")
    context = {
        "jobs": jobs,
        "can_trigger": can_trigger,
        "schedules": backup_schedules(),
        "restores": restore_jobs_recent(),
        "drill": drill_last(),
    }
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


@require_POST
@permission_required("backups.trigger_backup", "Only curators and admins can restore backups.")
def backup_restore(request: HttpRequest) -> HttpResponse:
    """Restore one dataset (``dataset``) or every missing dataset of ``snapshot``."""
    snapshot = request.POST.get("snapshot", "")[:300]
    dataset = request.POST.get("dataset", "").strip()[:100]
    try:
        job = restore_request(
            snapshot=snapshot, dataset_ids=[dataset] if dataset else [], user=request.user
        )
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Restore: {job_message(job)} This page shows its progress.")
    return redirect("backups:backup_list")


@require_POST
@permission_required("backups.trigger_backup", "Only curators and admins can run restore drills.")
def backup_drill(request: HttpRequest) -> HttpResponse:
    """Run a restore drill now (the one queued or running, if there is one)."""
    drill = drill_request(user=request.user)
    messages.success(request, f"Restore drill: {job_message(drill.job)} This page shows it.")
    return redirect("backups:backup_list")
