"""Refusals that services raise, and the one mapping of them to HTTP (SPEC §5).

A refusal is an answer, not a failure: the request is not carried out,
nothing is stored, and the message says why. Each refusal type carries its
HTTP ``status``; :func:`refusal_of` is the one place an exception becomes a
status and messages, for the pages, the API (``lakeweb.api``) and the upload
protocol alike. ``NotFound`` and ``PermissionRefused`` are Django's own 404
and 403 too, so a page that lets one through still shows its message.

``ChecksumMismatch`` is not a refusal: stored bytes went wrong, which no
request can fix, so it has no status here.
"""

from __future__ import annotations

from typing import NamedTuple, overload

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
    ValidationError,
)
from django.http import Http404


class ActionRefused(Exception):
    """The request is refused; every refusal is one of these.

    By itself: the action conflicts with the state of the lake (a raw dataset
    cannot be deleted, an upload is not complete yet): 409.
    """

    status = 409


class BadInput(ActionRefused):
    """The request itself is wrong (a chunk of the wrong size, a damaged page link)."""

    status = 400


class TooLarge(BadInput):
    """The request is larger than the server takes (a body, a count past its limit)."""

    status = 413


class PermissionRefused(ActionRefused, PermissionDenied):
    """The user lacks the role for this action, or it is someone else's."""

    status = 403


class NotFound(ActionRefused, Http404):
    """Nothing this user may see is at this id."""

    status = 404


class ChunkConflict(ActionRefused):
    """The chunk is not (or no longer) wanted here; ``received`` says where the file is."""

    def __init__(self, message: str, *, received: int) -> None:
        super().__init__(message)
        self.received = received


class UploadClosed(ActionRefused):
    """The upload was finished, cancelled or cleaned away."""


class ChecksumMismatch(Exception):
    """Stored bytes do not match the recorded SHA-256."""


class Refusal(NamedTuple):
    status: int
    messages: list[str]

    @property
    def message(self) -> str:
        return " ".join(self.messages)


@overload
def refusal_of(exc: ActionRefused | ValidationError) -> Refusal: ...
@overload
def refusal_of(exc: Exception) -> Refusal | None: ...


def refusal_of(exc: Exception) -> Refusal | None:
    """The HTTP status and messages a refused request gets; None if ``exc`` is no refusal.

    Form and service validation (Django's ValidationError) is bad input: 400.
    So is a request over Django's limits (its body too large: 413; too many fields or files).
    Anything else is a bug or an outage and stays an error (500).
    """
    if isinstance(exc, ActionRefused):
        return Refusal(exc.status, [str(exc)])
    if isinstance(exc, ValidationError):
        return Refusal(400, exc.messages)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        return _over_limit(exc)
    return None


def _over_limit(exc: SuspiciousOperation) -> Refusal:
    # Django's own messages name its settings; these say what to change.
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Refusal(413, [f"The request body is larger than the {limit:,} bytes allowed."])
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        return Refusal(400, [f"The request has more than the {limit:,} fields allowed."])
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return Refusal(400, [f"The request has more than the {limit:,} files allowed."])
