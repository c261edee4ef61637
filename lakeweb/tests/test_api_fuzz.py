"""Schemathesis over every operation of ``/api/schema/``, as a viewer and as a curator.

The app is served in-process through WSGI, on the test's database. Every
answer must be documented for its operation (status, content type, body), none
may be a 5xx, none may take two seconds or more, and a request the schema
rules out must be refused (SPEC §5). Writes run too:
whatever a curator's fuzzed POST or DELETE is allowed to do (queue a backup,
say) stays in the test's transaction, and nothing reaches a worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Dataset
from lakeweb.tokens.services import api_token_create
from lakeweb.wsgi import application

# Bounded by the examples drawn (max_examples), and at worst by this clock: one
# function runs every operation (31 of them took 85 s on 2 cores under a load
# average of 10), so the clock leaves room for a busy CI machine.
pytestmark = [pytest.mark.django_db, pytest.mark.timeout(240, func_only=True)]

ROLES = ("viewer", "curator")
SLOWEST_SECONDS = 2.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# And input the schema rules out is refused, not ignored (SPEC §5).
REFUSES_INVALID = [negative_data_rejection]


@pytest.fixture
def api_schema(users, filesystem_lake: Path) -> Iterator[Any]:
    """The schema as /api/schema/ serves it, read through the WSGI app.

    Afterwards the lake holds no object and no half-made dataset, whatever was sent.
    """
    # As Django's test client does: a request must not close the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _, key = api_token_create(user=users["viewer"])
    yield schemathesis.openapi.from_wsgi(
        "/api/schema/", application, headers={"Authorization": f"Token {key}"}
    )
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    stored = [path for path in filesystem_lake.rglob("*") if path.is_file()]
    assert stored == [], f"the fuzzed requests stored {stored[:5]}"
    assert not Dataset.objects.exists()


@pytest.fixture
def tokens(users) -> dict[str, str]:
    return {role: api_token_create(user=users[role])[1] for role in ROLES}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_no_undocumented_answer_no_slow_answer(
    case, tokens: dict[str, str]
) -> None:
    for role, token in tokens.items():  # each example as a viewer, then as a curator
        response = case.call(headers={"Authorization": f"Token {token}"})
        case.validate_response(response, checks=CHECKS + REFUSES_INVALID)
        assert response.elapsed < SLOWEST_SECONDS, f"{role}: {response.elapsed:.2f} s"
