"""Pipeline pages: start a run from a dataset, follow a run, run it again, cancel it."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from catalog.metadata import to_json
from catalog.selectors import dataset_get_ready
from lakeweb.access import browse_required, permission_required
from lakeweb.errors import ActionRefused
from lakeweb.jobs.services import job_cancel

from .forms import RunStartForm
from .parameters import parameters_form
from .registry import Pipeline
from .requests import pipeline_run_again, pipeline_run_request
from .selectors import pipeline_run_get, pipelines_for, run_reproduction

RUN_REFUSED = "Only lab members can run pipelines."


def _chosen(pipelines: list[Pipeline], name: str) -> Pipeline | None:
    return next(
        (spec for spec in pipelines if spec.name == name), pipelines[0] if pipelines else None
    )


@permission_required("provenance.run_pipeline", RUN_REFUSED)
def pipeline_start(request: HttpRequest, pk: str) -> HttpResponse:
    """Choose a pipeline and its parameters for a ready dataset; POST queues the run."""
    dataset = dataset_get_ready(pk=pk)
    pipelines = pipelines_for(dataset=dataset)
    data = request.POST if request.method == "POST" else None
    chosen = _chosen(pipelines, (data or request.GET).get("pipeline", ""))
    form = RunStartForm(
        data,
        pipelines=pipelines,
        chosen=chosen,
        initial={"pipeline": chosen.name if chosen else ""},
    )
    params = parameters_form(chosen, data) if chosen else None
    problems: list[str] = []
    if data is not None and form.is_valid() and params is not None and params.is_valid():
        values = {name: to_json(value) for name, value in params.cleaned_data.items()}
        try:
            run = pipeline_run_request(
                user=cast(User, request.user),
                pipeline=form.cleaned_data["pipeline"],
                inputs=[dataset.pk],
                parameters=values,
                target_layer=form.cleaned_data["target_layer"],
            )
        except ValidationError as exc:
            problems = exc.messages
        except ActionRefused as exc:
            problems = [str(exc)]
        else:
            messages.success(request, "The run is queued.")
            return redirect("provenance:pipeline_run", pk=run.pk)
    status = 400 if data is not None else 200
    context = {
        "dataset": dataset,
        "pipelines": pipelines,
        "chosen": chosen,
        "form": form,
        "params": params,
        "problems": problems,
    }
    return render(request, "provenance/pipeline_start.html", context, status=status)


@browse_required
def pipeline_run_detail(request: HttpRequest, pk: str) -> HttpResponse:
    """A run: status, progress and the log as it grows; its output; how a run again compares."""
    run = pipeline_run_get(pk=pk)
    user: Any = request.user
    context = {
        "run": run,
        "job": run.job,
        "reproduction": run_reproduction(run=run),
        "can_run_again": run.job.is_finished and user.has_perm("provenance.run_pipeline"),
        "can_cancel": not run.job.is_finished
        and (user.is_staff or (user.is_authenticated and run.job.requested_by_id == user.pk)),
    }
    return render(request, "provenance/pipeline_run.html", context)


@require_POST
@permission_required("provenance.run_pipeline", RUN_REFUSED)
def pipeline_run_again_view(request: HttpRequest, pk: str) -> HttpResponse:
    run = pipeline_run_get(pk=pk)
    try:
        again = pipeline_run_again(run=run, user=cast(User, request.user))
    except (ActionRefused, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("provenance:pipeline_run", pk=run.pk)
    messages.success(request, "The same run is queued again.")
    return redirect("provenance:pipeline_run", pk=again.pk)


@require_POST
@browse_required
def pipeline_run_cancel_view(request: HttpRequest, pk: str) -> HttpResponse:
    run = pipeline_run_get(pk=pk)
    if not request.user.is_authenticated:
        return redirect("provenance:pipeline_run", pk=run.pk)
    try:
        job_cancel(job=run.job, user=request.user)
    except ActionRefused as exc:
        messages.error(request, str(exc))
        if getattr(exc, "status", 409) == 403:
            raise
    else:
        messages.success(request, "Cancel requested: the run stops at its next step.")
    return redirect("provenance:pipeline_run", pk=run.pk)
