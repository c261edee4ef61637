"""The jobs pages (staff): every job with filters, one job with its log, cancel."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lakeweb.access import staff_required
from lakeweb.errors import ActionRefused

from .models import JobStatus
from .registry import kinds_all
from .selectors import job_get, jobs_list
from .services import job_cancel

STAFF_ONLY = "Only staff can see every job."


@staff_required(STAFF_ONLY)
def job_list(request: HttpRequest) -> HttpResponse:
    kinds = {kind.name: kind.label for kind in kinds_all()}
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    if kind not in kinds:
        kind = ""
    if status not in JobStatus.values:
        status = ""
    context = {
        "jobs": jobs_list(kind=kind, status=status),
        "kinds": kinds,
        "statuses": JobStatus.choices,
        "kind": kind,
        "status": status,
    }
    return render(request, "jobs/job_list.html", context)


@staff_required(STAFF_ONLY)
def job_detail(request: HttpRequest, pk: str) -> HttpResponse:
    job = job_get(pk=pk)
    if job is None:
        raise Http404("No job with this id.")
    return render(request, "jobs/job_detail.html", {"job": job})


@require_POST
@staff_required("Only staff can cancel jobs.")
def job_cancel_view(request: HttpRequest, pk: str) -> HttpResponse:
    job = job_get(pk=pk)
    if job is None:
        raise Http404("No job with this id.")
    try:
        job_cancel(job=job, user=cast(User, request.user))  # staff only: signed in
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Cancel requested: the job stops at its next step.")
    return redirect("jobs:job_detail", pk=job.pk)
