"""Dataset actions: promote, delete."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required
from lakeweb.errors import ActionRefused, refusal_of
from lakeweb.jobs.selectors import job_message

from .. import selectors, services
from ..models import Dataset
from .browse import dataset_detail


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
        return _refused(request, dataset, exc)
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
        return _refused(request, dataset, exc)
    messages.success(request, "Dataset deleted.")
    return redirect("catalog:dataset_list")


def _refused(request: HttpRequest, dataset: Dataset, exc: ActionRefused) -> HttpResponse:
    """The dataset's page with the refusal's message and status."""
    status, problems = refusal_of(exc)
    for message in problems:
        messages.error(request, message)
    response = dataset_detail(request, str(dataset.pk))
    response.status_code = status
    return response
