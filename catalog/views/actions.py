"""Dataset actions: promote, delete."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required

from .. import services
from ..models import Dataset
from .browse import dataset_detail, get_dataset


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_promote(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = get_dataset(pk)
    try:
        promotion = services.dataset_promote_request(
            dataset=dataset,
            user=request.user,
            target_layer=request.POST.get("target_layer") or None,
        )
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
        status = 403 if isinstance(exc, services.PermissionRefused) else 409
        return _detail_with_status(request, dataset, status)
    messages.success(request, f"Promotion to {promotion.target_layer} queued.")
    return redirect("catalog:dataset_detail", pk=dataset.pk)


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_delete(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = get_dataset(pk)
    try:
        services.dataset_delete(dataset=dataset, user=request.user)
    except services.ActionRefused as exc:
        messages.error(request, str(exc))
        status = 403 if isinstance(exc, services.PermissionRefused) else 409
        return _detail_with_status(request, dataset, status)
    messages.success(request, "Dataset deleted.")
    return redirect("catalog:dataset_list")


def _detail_with_status(request: HttpRequest, dataset: Dataset, status: int) -> HttpResponse:
    response = dataset_detail(request, str(dataset.pk))
    response.status_code = status
    return response
