"""The dataset page, its file tree (one folder at a time) and file downloads."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render

from lakeweb.access import browse_required
from lakeweb.errors import ActionRefused, refusal_of
from lakeweb.storage import ObjectMissing

from .. import selectors
from ..models import DataFile, Dataset, DatasetStatus
from ..selectors.fixity import dataset_fixity
from ..selectors.tree import (
    FolderPage,
    TreeNotFound,
    dataset_folder_page,
    folder_path_clean,
    page_number,
)
from ..services.fixity import missing_message


def get_folder_page(request: HttpRequest, dataset: Dataset) -> FolderPage:
    """The folder ``?dir=`` at page ``?fpage=``, or 404 saying what is wrong."""
    try:
        return dataset_folder_page(
            dataset=dataset,
            path=folder_path_clean(request.GET.get("dir", "")),
            page=page_number(request.GET.get("fpage")),
        )
    except TreeNotFound as exc:
        raise Http404(str(exc)) from None


@browse_required
def dataset_detail(request: HttpRequest, pk: str) -> HttpResponse:
    dataset = selectors.dataset_get(pk=pk)
    context = {
        "dataset": dataset,
        "experiments": selectors.dataset_metadata_rows(dataset=dataset),
        "tree": get_folder_page(request, dataset),
        "timeline": selectors.dataset_timeline(dataset=dataset),
        "jobs": selectors.dataset_jobs(dataset=dataset),
        "actions": selectors.dataset_actions(dataset=dataset, user=request.user),
        "fixity": dataset_fixity(dataset=dataset),
        "cold": selectors.dataset_cold_state(dataset=dataset, user=request.user),
    }
    return render(request, "catalog/dataset_detail.html", context)


def page_refused(request: HttpRequest, dataset: Dataset, exc: ActionRefused) -> HttpResponse:
    """The dataset's page with the refusal's message and status."""
    status, problems = refusal_of(exc)
    for message in problems:
        messages.error(request, message)
    response = dataset_detail(request, str(dataset.pk))
    response.status_code = status
    return response


@browse_required
def dataset_tree(request: HttpRequest, pk: str) -> HttpResponse:
    """One folder's children as an HTML fragment, for opening a folder in place."""
    dataset = selectors.dataset_get(pk=pk)
    if dataset.status == DatasetStatus.DELETED:
        raise Http404("This dataset was deleted; its files are gone.")
    context = {"dataset": dataset, "tree": get_folder_page(request, dataset)}
    return render(request, "catalog/_folder.html", context)


@browse_required
def datafile_download(request: HttpRequest, pk: str, file_id: int) -> HttpResponse:
    datafile = get_object_or_404(
        DataFile.objects.select_related("dataset"),
        pk=file_id,
        dataset_id=pk,
        dataset__status="ready",
    )
    try:
        selectors.dataset_readable_check(dataset=datafile.dataset)
    except selectors.ColdRefused as exc:
        return page_refused(request, datafile.dataset, exc)
    try:
        download = selectors.datafile_download(datafile=datafile)
    except ObjectMissing:
        raise Http404(missing_message(datafile=datafile)) from None
    if download.url:
        return HttpResponseRedirect(download.url)
    filename = datafile.path.rsplit("/", 1)[-1]
    response = FileResponse(
        download.stream, as_attachment=True, filename=filename, content_type=datafile.content_type
    )
    # The stream is hashed as it goes (no size of its own to give): the sealed size.
    response["Content-Length"] = str(datafile.size)
    return response
