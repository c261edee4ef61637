"""Catalog pages: browse, dataset, download, upload, promote, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from lakeweb.access import browse_required, permission_required
from provenance.selectors import dataset_timeline

from . import selectors, services
from .forms import UploadForm, metadata_form
from .metadata import to_json
from .models import DataFile, Dataset, Layer, MetadataForm, Source

PAGE_SIZE = 25


@browse_required
def dataset_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    layer = request.GET.get("layer", "")
    source = request.GET.get("source", "")
    datasets = selectors.dataset_search(
        q=q, layer=layer if layer in Layer.values else "", source=source
    )
    page = Paginator(datasets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "q": q,
        "layer": layer,
        "source": source,
        "layers": Layer.values,
        "sources": Source.objects.all(),
    }
    return render(request, "catalog/dataset_list.html", context)


def _get_dataset(pk: object) -> Dataset:
    try:
        return selectors.dataset_get(pk=pk)
    except Dataset.DoesNotExist:
        raise Http404("No such dataset.") from None


@browse_required
def dataset_detail(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = _get_dataset(pk)
    context = {
        "dataset": dataset,
        "experiments": selectors.dataset_metadata_rows(dataset=dataset),
        "files": dataset.files.all()[:1000],
        "timeline": dataset_timeline(dataset=dataset),
        "promotions": dataset.promotions.select_related("target", "requested_by"),
        "actions": selectors.dataset_actions(dataset=dataset, user=request.user),
    }
    return render(request, "catalog/dataset_detail.html", context)


@browse_required
def datafile_download(request: HttpRequest, pk: str, file_id: int) -> HttpResponse:
    datafile = get_object_or_404(
        DataFile.objects.select_related("dataset"),
        pk=file_id,
        dataset_id=pk,
        dataset__status="ready",
    )
    download = selectors.datafile_download(datafile=datafile)
    if download.url:
        return HttpResponseRedirect(download.url)
    filename = datafile.path.rsplit("/", 1)[-1]
    return FileResponse(
        download.stream, as_attachment=True, filename=filename, content_type=datafile.content_type
    )


@permission_required("catalog.add_dataset", "Only lab members can upload datasets.")
def upload_choose(request: HttpRequest) -> HttpResponse:
    forms = selectors.metadata_forms_open()
    return render(request, "catalog/upload_choose.html", {"forms": forms})


@permission_required("catalog.add_dataset", "Only lab members can upload datasets.")
def upload(request: HttpRequest, form_id: int) -> HttpResponse:
    metadata_definition = get_object_or_404(MetadataForm, pk=form_id, retired=False)
    version = services.form_version_current(form=metadata_definition)
    upload_form = UploadForm(request.POST or None, request.FILES or None)
    meta_form = metadata_form(version, request.POST or None)
    status = 200
    if request.method == "POST":
        if upload_form.is_valid() and meta_form.is_valid():
            dataset = _upload(request, upload_form, meta_form, version)
            if dataset is not None:
                messages.success(request, f"Uploaded {dataset.file_count} files to raw.")
                return redirect("catalog:dataset_detail", pk=dataset.pk)
        status = 400
    context = {
        "definition": metadata_definition,
        "version": version,
        "form": upload_form,
        "meta_form": meta_form,
    }
    return render(request, "catalog/upload.html", context, status=status)


def _upload(request: HttpRequest, upload_form: UploadForm, meta_form, version) -> Dataset | None:
    data = upload_form.cleaned_data
    items = [
        services.UploadedItem(path=path, stream=upload, content_type=upload.content_type or "")
        for path, upload in zip(data["paths"], data["files"], strict=True)
    ]
    try:
        return services.dataset_upload(
            owner=request.user,
            name=data["name"],
            source=data["source"],
            experiments=[{k: to_json(v) for k, v in meta_form.cleaned_data.items()}],
            items=items,
            form_version=version,
            description=data["description"],
            external_id=data["external_id"],
            tags=data["tags"],
        )
    except ValidationError as exc:
        for message in exc.messages:
            upload_form.add_error(None, message)
    except services.ActionRefused as exc:
        upload_form.add_error(None, str(exc))
    return None


@require_POST
@permission_required("catalog.view_dataset", "Your account has no role yet.")
def dataset_promote(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = _get_dataset(pk)
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
    dataset = _get_dataset(pk)
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
