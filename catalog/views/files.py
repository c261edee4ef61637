"""A dataset's files beyond the single download: the whole dataset as a zip, previews."""

from __future__ import annotations

import logging

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.http import content_disposition_header

from lakeweb.access import browse_required
from lakeweb.errors import ChecksumMismatch
from lakeweb.storage import ObjectMissing, StorageError

from .. import selectors
from ..models import DataFile, DatasetStatus
from ..selectors import archive, tree
from ..selectors import preview as previews
from ..services.fixity import missing_message
from .browse import page_refused

logger = logging.getLogger(__name__)

UNREADABLE = "The file could not be read from storage; try again later, or tell an admin."
ALTERED = "The stored bytes of this file are not those that were sealed; the admins have been told."
# What a browser may do with an image served from the lake: show it, nothing else.
INLINE_CSP = "default-src 'none'; sandbox"


def get_datafile(pk: str, file_id: int) -> DataFile:
    try:
        return tree.datafile_get(dataset_id=pk, file_id=file_id)
    except tree.TreeNotFound as exc:
        raise Http404(str(exc)) from None


@browse_required
def dataset_zip(request: HttpRequest, pk: str) -> HttpResponseBase:
    """Every file of a ready dataset in one zip, made while it is sent."""
    dataset = selectors.dataset_get(pk=pk)
    if dataset.status != DatasetStatus.READY:
        raise Http404("This dataset was deleted; its files are gone.")
    try:
        selectors.dataset_readable_check(dataset=dataset)
    except selectors.ColdRefused as exc:
        return page_refused(request, dataset, exc)
    response = StreamingHttpResponse(
        archive.dataset_zip(dataset=dataset), content_type="application/zip"
    )
    filename = archive.dataset_zip_filename(dataset=dataset)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    # A proxy that buffered the whole archive would undo the constant memory.
    response["X-Accel-Buffering"] = "no"
    return response


@browse_required
def datafile_preview(request: HttpRequest, pk: str, file_id: int) -> HttpResponse:
    """The head of a file as a table, text or image, or why there is no preview."""
    datafile = get_datafile(pk, file_id)
    status, error, preview = 200, "", None
    try:
        selectors.dataset_readable_check(dataset=datafile.dataset)
        preview = previews.datafile_preview(datafile=datafile)
    except ObjectMissing:
        status, error = 404, missing_message(datafile=datafile)
    except selectors.ColdRefused as exc:
        status, error = 409, str(exc)
    except StorageError:
        logger.exception("preview of file %s failed", datafile.pk)
        status, error = 503, UNREADABLE
    except ChecksumMismatch:  # recorded and alerted where it was found
        status, error = 502, ALTERED
    context = {
        "dataset": datafile.dataset,
        "datafile": datafile,
        "breadcrumbs": tree.folder_breadcrumbs(path=datafile.folder),
        "preview": preview,
        "error": error,
    }
    return render(request, "catalog/preview.html", context, status=status)


@browse_required
def datafile_inline(request: HttpRequest, pk: str, file_id: int) -> HttpResponseBase:
    """A PNG, JPEG, GIF or WebP image proven by its bytes, for the preview's <img>."""
    datafile = get_datafile(pk, file_id)
    try:
        selectors.dataset_readable_check(dataset=datafile.dataset)
    except selectors.ColdRefused as exc:
        return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
    try:
        image = previews.datafile_image(datafile=datafile)
    except previews.PreviewRefused as exc:
        raise Http404(str(exc)) from None
    except ObjectMissing:
        message = missing_message(datafile=datafile)
        return HttpResponse(message, status=404, content_type="text/plain; charset=utf-8")
    except StorageError:
        logger.exception("inline image %s failed", datafile.pk)
        return HttpResponse(UNREADABLE, status=503, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(image, content_type=image.content_type)
    response["Content-Length"] = str(datafile.size)
    response["Content-Disposition"] = content_disposition_header(False, datafile.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = INLINE_CSP
    response["Cache-Control"] = "private, max-age=300"
    return response
