"""Log lines: a request id on every line, JSON when asked, refusals in one line.

The handler under test is built from ``settings.LOGGING`` itself (its
filters and formatters), writing to a buffer instead of the console.
"""

from __future__ import annotations

import io
import json
import logging
import logging.config
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from lakeweb.jobs import registry
from lakeweb.jobs.models import Job
from lakeweb.jobs.registry import job_kind
from lakeweb.jobs.runner import JobContext, job_run
from lakeweb.jobs.services import job_request
from lakeweb.jobs.tasks import job_run_task
from lakeweb.logs import RequestLogMiddleware

pytestmark = pytest.mark.django_db


def configured_handler(formatter: str, buffer: io.StringIO) -> logging.Handler:
    """The console handler of ``settings.LOGGING`` with ``formatter``, into ``buffer``."""
    config = logging.config.DictConfigurator(settings.LOGGING)
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(
        config.configure_formatter(dict(settings.LOGGING["formatters"][formatter]))
    )
    for name in settings.LOGGING["handlers"]["console"]["filters"]:
        handler.addFilter(config.configure_filter(dict(settings.LOGGING["filters"][name])))
    return handler


@pytest.fixture
def logged() -> Iterator[Callable[[], list[dict]]]:
    """A function giving the JSON objects logged (INFO and up) so far in the test."""
    buffer = io.StringIO()
    handler = configured_handler("json", buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)


def test_each_response_names_its_request(client) -> None:
    first, second = client.get("/health/"), client.get("/health/")
    ids = {first["X-Request-ID"], second["X-Request-ID"]}
    assert len(ids) == 2 and all(len(value) == 32 for value in ids)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc-123.proxy:7", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("two words", False),
        ("line\nbreak", False),
        ("", False),
    ],
)
def test_a_proxys_request_id_is_kept_only_when_a_plain_token(client, sent, kept) -> None:
    answered = client.get("/health/", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    assert (answered == sent) is kept
    if not kept:
        assert uuid.UUID(hex=answered)


def test_a_request_is_one_json_line_with_its_id_user_and_timing(client_for, logged, member) -> None:
    response = client_for("member").get("/datasets/", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 200
    lines = [line for line in logged() if line["logger"] == "lakeweb.request"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["request_id"], line["user"], line["method"], line["path"], line["status"]) == (
        "req-42", str(member.pk), "GET", "/datasets/", 200
    )  # fmt: skip
    assert line["level"] == "INFO" and line["duration_ms"] >= 0 and line["time"]


def test_a_refusal_is_one_line_without_a_traceback(client, django_user_model, logged) -> None:
    nobody = django_user_model.objects.create_user("norole", "norole@lab.example", "pw")
    client.force_login(nobody)
    assert client.get("/datasets/", HTTP_X_REQUEST_ID="refused-1").status_code == 403
    refused = [line for line in logged() if line["logger"] == "django.request"]
    assert len(refused) == 1
    assert refused[0]["request_id"] == "refused-1" and refused[0]["level"] == "WARNING"
    assert "exc_info" not in refused[0] and "Traceback" not in json.dumps(refused[0])


@pytest.fixture
def logging_kind() -> Iterator[str]:
    name = f"test-logs-{uuid.uuid4().hex[:8]}"

    def body(ctx: JobContext) -> None:
        ctx.log("working on it")

    job_kind(name, label="Test logs")(body)
    yield name
    registry._KINDS.pop(name, None)


def test_a_job_carries_the_request_id_onto_the_workers_lines(
    logging_kind, logged, monkeypatch
) -> None:
    monkeypatch.setattr(job_run_task, "apply_async", lambda *args, **options: None)
    made: list[Job] = []

    def view(request: HttpRequest) -> HttpResponse:
        with transaction.atomic():
            made.append(job_request(kind=logging_kind))
        return HttpResponse("queued")

    RequestLogMiddleware(view)(RequestFactory().get("/x/", HTTP_X_REQUEST_ID="asked-7"))
    job = made[0]
    assert Job.objects.get(pk=job.pk).request_id == "asked-7"
    job_run(job_id=job.pk)
    worked = [line for line in logged() if line["message"] == "working on it"]
    assert len(worked) == 1
    assert (worked[0]["request_id"], worked[0]["job_id"]) == ("asked-7", str(job.pk))
    # Outside the job, the worker's lines carry neither.
    logging.getLogger("lakeweb").warning("between jobs")
    between = next(line for line in logged() if line["message"] == "between jobs")
    assert (between["request_id"], between["job_id"]) == ("-", "-")


def test_plain_lines_carry_the_request_id(client, filesystem_lake) -> None:
    buffer = io.StringIO()
    handler = configured_handler("plain", buffer)
    logger = logging.getLogger("lakeweb.request")
    logger.addHandler(handler)
    try:
        client.get("/health/", HTTP_X_REQUEST_ID="plain-9")
    finally:
        logger.removeHandler(handler)
    assert "[plain-9] GET /health/ " in buffer.getvalue()


def test_django_says_an_error_response_once_with_the_request_id(client, logged) -> None:
    assert client.get("/datasets/nowhere/", HTTP_X_REQUEST_ID="lost-3").status_code == 404
    said = [line for line in logged() if line["logger"] == "django.request"]
    assert [(line["message"], line["request_id"]) for line in said] == [
        ("Not Found: /datasets/nowhere/", "lost-3")
    ]
