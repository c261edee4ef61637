"""The fixity page (curators and admins): coverage, last runs, open failures; run now."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from lakeweb.access import permission_required
from lakeweb.jobs.selectors import job_message

from .fixity import FIXITY_KIND
from .fixity_status import (
    FIXITY_PERMISSION,
    fixity_coverage,
    fixity_failures_open,
    fixity_request,
    fixity_runs,
)
from .reconcile import RECONCILE_KIND

REFUSED = "Only curators and admins can see and run fixity checks."
KINDS = {"fixity": FIXITY_KIND, "reconcile": RECONCILE_KIND}


@permission_required(FIXITY_PERMISSION, REFUSED)
def fixity_page(request: HttpRequest) -> HttpResponse:
    context = {
        "coverage": fixity_coverage(),
        "runs": fixity_runs(),
        "failures": fixity_failures_open(),
    }
    return render(request, "backups/fixity.html", context)


@require_POST
@permission_required(FIXITY_PERMISSION, REFUSED)
def fixity_run(request: HttpRequest) -> HttpResponse:
    kind = KINDS.get(request.POST.get("kind", ""))
    if kind is None:
        messages.error(request, "Choose a fixity batch or a reconciliation.")
        return redirect("backups:fixity")
    job = fixity_request(kind=kind, user=request.user)  # type: ignore[arg-type]
    messages.success(request, f"{job.kind_label}: {job_message(job)}")
    return redirect("backups:fixity")
