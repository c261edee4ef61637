"""Dataset actions: promote, delete, restore from the cold tier."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required
from lakeweb.errors import ActionRefused
from lakeweb.jobs.selectors import job_message

from .. import selectors, services
from .browse import page_refused


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_promote(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = selectors.dataset_get(pk=pk)
    try:
        promotion = services.dataset_promote_request(
            dataset=dataset,
            user=request.user,
            target_layer=request.POST.get("target_layer") or None,
        )
    except ActionRefused as exc:
        return page_refused(request, dataset, exc)
    messages.success(
        request, f"Promotion to {promotion.target_layer}: {job_message(promotion.job)}"
    )
    return redirect("catalog:dataset_detail", pk=dataset.pk)


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_delete(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = selectors.dataset_get(pk=pk)
    try:
        services.dataset_delete(dataset=dataset, user=request.user)
    except ActionRefused as exc:
        return page_refused(request, dataset, exc)
    messages.success(request, "Dataset deleted.")
    return redirect("catalog:dataset_list")


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_restore(request: HttpRequest, pk: str) -> HttpResponse:
    """Ask for a cold dataset's files to be made readable (a job, then a periodic watch)."""
    dataset = selectors.dataset_get(pk=pk)
    try:
        restore = services.dataset_restore_request(dataset=dataset, user=request.user)
    except ActionRefused as exc:
        return page_refused(request, dataset, exc)
    messages.success(
        request,
        f"Restore requested for {restore.files_total} files: {job_message(restore.job)} "
        "You get an email once every file is readable.",
    )
    return redirect("catalog:dataset_detail", pk=dataset.pk)
