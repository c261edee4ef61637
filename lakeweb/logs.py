"""Log lines that say which request (and which job) they belong to (SPEC §4).

Every request gets an id: the ``X-Request-ID`` a proxy sent, when it is a
plain short token, or a new one. It is on every line logged while the
request runs, on the response's ``X-Request-ID`` header, and on the jobs the
request asks for, so a job's lines on a worker carry the id of the request
that asked for it. ``LOG_FORMAT=json`` writes one JSON object per line
(python-json-logger) for a log system; the default stays plain lines.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

if TYPE_CHECKING:
    from lakeweb.jobs.models import Job

request_logger = logging.getLogger("lakeweb.request")

# What a request id from outside may be: a proxy's token, not a place for text.
SENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
NONE = "-"

_request_id: ContextVar[str] = ContextVar("request_id", default=NONE)
_user: ContextVar[str] = ContextVar("user", default=NONE)
_job: ContextVar[str] = ContextVar("job", default=NONE)


def request_id_current() -> str:
    """The id of the request (or of the request that asked for the job) being served."""
    return _request_id.get()


class ContextFilter(logging.Filter):
    """Puts the request id, the user and the job on every record (handlers' filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.user = _user.get()
        record.job_id = _job.get()
        return True


class RefusalFilter(logging.Filter):
    """A refused request (4xx) is one line: Django would add the traceback of a
    PermissionDenied or Http404 it turned into the response."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class RequestLogMiddleware:
    """First of the middleware: names the request, then logs one line when it ends."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if SENT_ID.fullmatch(sent) else uuid.uuid4().hex
        tokens = (_request_id.set(request_id), _user.set(NONE))
        began = time.perf_counter()
        try:
            response = self.get_response(request)
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                _user.set(str(user.pk))
            response["X-Request-ID"] = request_id
            if response.status_code >= 400:
                # Django's own warning (or error) line, said here where the id is known;
                # Django would say it after the middleware, the id gone.
                log_response(
                    "%s: %s",
                    response.reason_phrase,
                    request.path,
                    response=response,
                    request=request,
                )
            request_logger.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - began) * 1000, 1),
                },
            )
            return response
        finally:
            _request_id.reset(tokens[0])
            _user.reset(tokens[1])


@contextlib.contextmanager
def job_logging(job: Job) -> Iterator[None]:
    """While a worker runs ``job``: its lines carry the job and the request that asked."""
    tokens = (
        _request_id.set(job.request_id or NONE),
        _user.set(str(job.requested_by_id) if job.requested_by_id else NONE),
        _job.set(str(job.pk)),
    )
    try:
        yield
    finally:
        _request_id.reset(tokens[0])
        _user.reset(tokens[1])
        _job.reset(tokens[2])
