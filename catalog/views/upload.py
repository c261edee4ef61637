"""Upload pages and the resumable upload protocol the page's script speaks.

``POST upload/<form>/start/``            validate everything, open the upload (JSON)
``GET  uploads/<id>/``                   what has arrived, per file (JSON)
``PUT  uploads/<id>/files/<f>/?offset=`` one chunk of one file (raw body)
``POST uploads/<id>/batch/``             several small whole files (multipart, field f<id>)
``POST uploads/<id>/finish/``            seal the dataset
``DELETE uploads/<id>/``                 cancel, removing what was stored

Without JavaScript the page posts the files in one request instead
(``upload``), through the same services.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from lakeweb.access import permission_required
from lakeweb.errors import ActionRefused, ChunkConflict, refusal_of
from lakeweb.multipart import sent_file_names

from .. import selectors, services
from ..forms import UploadForm, UploadStartForm, experiment_forms
from ..metadata import to_json
from ..models import MetadataForm, MetadataFormVersion

MEMBERS_ONLY = "Only lab members can upload datasets."


@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_choose(request: HttpRequest) -> HttpResponse:
    forms = selectors.metadata_forms_open()
    return render(request, "catalog/upload_choose.html", {"forms": forms})


def _open_form(form_id: int) -> tuple[MetadataForm, MetadataFormVersion]:
    definition = get_object_or_404(MetadataForm, pk=form_id, retired=False)
    return definition, services.form_version_current(form=definition)


def _draft(
    request: HttpRequest, data: dict[str, Any], experiments: list[Any], version: MetadataFormVersion
) -> services.DatasetDraft:
    """The new dataset as the page's (already validated) forms describe it."""
    return services.DatasetDraft(
        owner=request.user,
        name=data["name"],
        source=data["source"],
        experiments=[{k: to_json(v) for k, v in form.cleaned_data.items()} for form in experiments],
        form_version=version,
        description=data["description"],
        external_id=data["external_id"],
        tags=data["tags"],
        layer=data["layer"],
        derived_from=data["derived_from"],
    )


@sent_file_names
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload(request: HttpRequest, form_id: int) -> HttpResponse:
    definition, version = _open_form(form_id)
    upload_form = UploadForm(request.POST or None, request.FILES or None)
    experiments = experiment_forms(version, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if upload_form.is_valid() and all(form.is_valid() for form in experiments):
            try:
                dataset = services.dataset_upload(
                    draft=_draft(request, upload_form.cleaned_data, experiments, version),
                    items=_items(upload_form.cleaned_data),
                )
            except (ValidationError, ActionRefused) as exc:
                status, problems = refusal_of(exc)
                for message in problems:
                    upload_form.add_error(None, message)
            else:
                messages.success(
                    request, f"Uploaded {dataset.file_count} files to {dataset.layer}."
                )
                return redirect("catalog:dataset_detail", pk=dataset.pk)
        else:
            for message in _path_problems(upload_form.cleaned_data.get("paths")):
                upload_form.add_error(None, message)
    context = {
        "definition": definition,
        "version": version,
        "form": upload_form,
        "experiment_forms": experiments,
        "experiment_template": experiment_forms(version)[0],
        "chunk_size": None,
    }
    return render(request, "catalog/upload.html", context, status=status)


def _path_problems(paths: list[str] | None) -> list[str]:
    """What is wrong with the files' names, told beside the metadata's problems.

    Called when the form is refused anyway, so one answer lists every problem
    rather than the names only once the metadata is right.
    """
    if not paths:
        return []  # no files: the form says so already
    return _problems(lambda: services.clean_paths(paths))


def _manifest_problems(manifest: list[tuple[str, Any]] | None) -> list[str]:
    """As ``_path_problems`` for the protocol's start: the file list's problems, if it parsed."""
    if manifest is None:
        return []  # the form reports the malformed list itself
    files = [services.PlannedFile(path=path, size=size) for path, size in manifest]
    return _problems(lambda: services.upload_files_check(files=files))


def _problems(check: Callable[[], object]) -> list[str]:
    try:
        check()
    except ValidationError as exc:
        return exc.messages
    return []


def _items(data: dict[str, Any]) -> list[services.UploadedItem]:
    return [
        services.UploadedItem(path=path, stream=upload, content_type=upload.content_type or "")
        for path, upload in zip(data["paths"], data["files"], strict=True)
    ]


def _errors(form: Any, prefix: str = "") -> list[str]:
    """Each problem as one line, after the field's label (a hidden field has none)."""
    return [
        f"{prefix}{label}: {message}" if label else f"{prefix}{message}"
        for name, messages_ in form.errors.items()
        for label in [_label(form, name)]
        for message in messages_
    ]


def _label(form: Any, name: str) -> str | None:
    if name == "__all__":
        return None
    return form.fields[name].label if name in form.fields else "Upload"


def _refusal(exc: ValidationError | ActionRefused) -> JsonResponse:
    status, problems = refusal_of(exc)
    body: dict[str, Any] = {"errors": problems}
    if isinstance(exc, ChunkConflict):
        body["received"] = exc.received  # where the page resumes
    return JsonResponse(body, status=status)


@require_POST
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_start(request: HttpRequest, form_id: int) -> JsonResponse:
    _definition, version = _open_form(form_id)
    start = UploadStartForm(request.POST)
    experiments = experiment_forms(version, request.POST)
    errors = _errors(start) + [
        message
        for i, form in enumerate(experiments)
        for message in _errors(form, f"Experiment {i + 1} · " if len(experiments) > 1 else "")
    ]
    if errors:
        errors += _manifest_problems(start.cleaned_data.get("manifest"))
        return JsonResponse({"errors": errors}, status=400)
    data = start.cleaned_data
    try:
        dataset = services.upload_session_start(
            draft=_draft(request, data, experiments, version),
            files=[services.PlannedFile(path=path, size=size) for path, size in data["manifest"]],
        )
    except (ValidationError, ActionRefused) as exc:
        return _refusal(exc)
    return JsonResponse(selectors.upload_status(dataset=dataset), status=201)


@require_http_methods(["GET", "DELETE"])
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_session(request: HttpRequest, upload_id: str) -> JsonResponse:
    try:
        dataset = services.upload_session_get(dataset_id=upload_id, user=request.user)
        if request.method == "DELETE":
            services.upload_session_cancel(dataset=dataset)
            return JsonResponse({"upload": upload_id, "status": "cancelled"})
    except ActionRefused as exc:
        return _refusal(exc)
    # With what the upload began with: a resuming page shows it (read-only).
    status = selectors.upload_status(dataset=dataset)
    return JsonResponse({**status, "draft": selectors.upload_draft(dataset=dataset)})


@require_http_methods(["PUT"])
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_chunk(request: HttpRequest, upload_id: str, file_id: int) -> JsonResponse:
    try:
        offset = int(request.GET.get("offset", ""))
        # No Content-Length (and no chunked encoding under WSGI) is an empty body.
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse(
            {"errors": ["Give the chunk's ?offset= and a Content-Length."]}, status=400
        )
    try:
        dataset = services.upload_session_get(dataset_id=upload_id, user=request.user)
        upload = services.upload_chunk_write(
            dataset=dataset, file_id=file_id, offset=offset, length=length, stream=request
        )
    except ActionRefused as exc:
        return _refusal(exc)
    return JsonResponse({"received": upload.received, "complete": upload.completed})


@require_POST
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_batch(request: HttpRequest, upload_id: str) -> JsonResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse({"errors": ["The batch needs a Content-Length."]}, status=400)
    try:
        file_ids = services.batch_ids(request.GET.get("files", ""))
        dataset = services.upload_session_get(dataset_id=upload_id, user=request.user)
        uploads = services.upload_batch_write(
            dataset=dataset, file_ids=file_ids, stream=request, length=length
        )
    except ActionRefused as exc:
        return _refusal(exc)
    return JsonResponse(
        {"files": [{"id": u.id, "received": u.received, "complete": u.completed} for u in uploads]}
    )


@require_POST
@permission_required("catalog.add_dataset", MEMBERS_ONLY)
def upload_finish(request: HttpRequest, upload_id: str) -> JsonResponse:
    try:
        dataset = services.upload_session_get(dataset_id=upload_id, user=request.user)
        dataset = services.upload_session_finish(dataset=dataset, user=request.user)
    except ActionRefused as exc:
        return _refusal(exc)
    messages.success(request, f"Uploaded {dataset.file_count} files to {dataset.layer}.")
    url = reverse("catalog:dataset_detail", args=[dataset.pk])
    return JsonResponse({"dataset": str(dataset.pk), "url": url})
