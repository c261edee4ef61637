"""One mapping of refusals to HTTP, the same for the pages, the API and the upload protocol."""

from __future__ import annotations

import pytest
from django.core.exceptions import (
    DisallowedHost,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousFileOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.http import Http404

from catalog.selectors.paging import BadCursor
from lakeweb.api import exception_handler
from lakeweb.errors import (
    ActionRefused,
    BadInput,
    ChecksumMismatch,
    ChunkConflict,
    NotFound,
    PermissionRefused,
    TooLarge,
    UploadClosed,
    refusal_of,
)

REFUSALS = [
    (ActionRefused("Raw datasets can never be deleted."), 409),
    (ChunkConflict("'a.txt' already has byte 0.", received=5), 409),
    (UploadClosed("This upload is no longer open."), 409),
    (BadInput("The chunk must be 4 bytes, not 2."), 400),
    (TooLarge("The JSON body is larger than the 1,048,576 bytes allowed."), 413),
    (BadCursor("This page link is damaged."), 400),
    (PermissionRefused("Only curators can delete datasets."), 403),
    (NotFound("No such dataset."), 404),
]


@pytest.mark.parametrize(("exc", "status"), REFUSALS)
def test_each_refusal_has_its_status_and_its_message(exc: Exception, status: int) -> None:
    assert refusal_of(exc) == (status, [str(exc)])


@pytest.mark.parametrize(("exc", "status"), REFUSALS)
def test_the_api_gives_a_refusal_the_same_status_as_json(exc: Exception, status: int) -> None:
    response = exception_handler(exc, {})
    assert response.status_code == status
    assert response.data == {"detail": str(exc)}


def test_validation_errors_are_bad_input_with_every_message() -> None:
    refusal = refusal_of(ValidationError(["No files.", "'a' appears twice."]))
    assert refusal == (400, ["No files.", "'a' appears twice."])
    assert refusal.message == "No files. 'a' appears twice."


@pytest.mark.parametrize("exc", [ChecksumMismatch("a.txt"), ValueError("x"), KeyError("x")])
def test_what_is_no_refusal_is_not_mapped(exc: Exception) -> None:
    assert refusal_of(exc) is None


def test_a_page_that_lets_a_refusal_through_gets_djangos_404_or_403() -> None:
    assert isinstance(NotFound("x"), Http404)
    assert isinstance(PermissionRefused("x"), PermissionDenied)


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [
        (RequestDataTooBig("x"), 413, "The request body is larger than the 1,000 bytes allowed."),
        (TooManyFieldsSent("x"), 400, "The request has more than the 10 fields allowed."),
        (TooManyFilesSent("x"), 400, "The request has more than the 5 files allowed."),
    ],
)
def test_a_request_over_djangos_limits_is_refused_with_the_limit(
    settings, exc: Exception, status: int, message: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 5

    assert refusal_of(exc) == (status, [message])


@pytest.mark.parametrize("exc", [DisallowedHost("evil"), SuspiciousFileOperation("../x")])
def test_other_suspicious_operations_are_no_refusal(exc: Exception) -> None:
    assert refusal_of(exc) is None  # a request gets Django's 400 (JSON under /api/); a job fails
