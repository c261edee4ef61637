"""The OpenAPI schema tells the truth about errors: each operation lists the 4xx it gives.

The fuzz test (``test_api_fuzz.py``) holds the answers to the schema; these
hold the schema to what every operation can answer whatever it is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db

ERROR = {"$ref": "#/components/schemas/Error"}
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def schema(api_for) -> dict[str, Any]:
    response = api_for("viewer").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_documents_its_errors_with_the_error_body(schema) -> None:
    found = operations(schema)
    # + the exports (PROV-JSON, RO-Crate, BagIt), + fixity (GET and POST /api/fixity/),
    # + a cold dataset's restore request, + the 5 of pipelines, + a restore from a snapshot
    # (request and follow)
    assert len(found) == 14 + 3 + 2 + 1 + 5 + 2

    for method, path, operation in found:
        statuses = {int(status) for status in operation["responses"]}
        expected = {401, 403}
        if "{" in path:
            expected.add(404)  # an unknown or malformed id
        if method == "post" and "requestBody" in operation:
            expected |= {400, 413, 415}
        if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
            expected.add(400)
        assert expected <= statuses, f"{method.upper()} {path} lacks {expected - statuses}"
        for status in statuses - {200, 201, 202, 204}:
            body = operation["responses"][str(status)]
            assert body["content"]["application/json"]["schema"] == ERROR, (method, path, status)
            assert body["description"]


def test_only_deleting_promoting_restoring_cold_downloads_and_run_actions_document_a_conflict(
    schema,
) -> None:
    conflicts = {
        (method, path)
        for method, path, operation in operations(schema)
        if "409" in operation["responses"]
    }
    assert conflicts == {
        ("delete", "/api/datasets/{id}/"),
        ("post", "/api/datasets/{id}/promote/"),
        ("post", "/api/datasets/{id}/restore/"),
        # a dataset that still exists, or a restore of that snapshot already under way
        ("post", "/api/backups/restores/"),
        # a file of a dataset in the archive's cold storage, not restored
        ("get", "/api/datasets/{id}/files/{file_id}/download/"),
        # the exports of a cold dataset, refused before their first byte
        ("get", "/api/datasets/{id}/ro-crate/"),
        ("get", "/api/datasets/{id}/bag/"),
        # A run not ended cannot be run again; an ended one cannot be cancelled.
        ("post", "/api/pipelines/runs/{id}/again/"),
        ("post", "/api/pipelines/runs/{id}/cancel/"),
    }


def test_the_error_body_is_a_detail_with_optional_errors(schema) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"]
    assert error["properties"]["detail"]["type"] == "string"
    assert set(error["properties"]) == {"detail", "errors"}


@pytest.mark.parametrize("name", ["field", "tags"])
def test_repeatable_parameters_are_exploded_arrays(schema, name: str) -> None:
    parameters = schema["paths"]["/api/datasets/"]["get"]["parameters"]
    (parameter,) = [parameter for parameter in parameters if parameter["name"] == name]

    assert parameter["schema"] == {"type": "array", "items": {"type": "string"}}
    assert (parameter["style"], parameter["explode"]) == ("form", True)


def test_page_size_and_dates_say_an_empty_value_is_refused(schema) -> None:
    parameters = {
        parameter["name"]: parameter
        for parameter in schema["paths"]["/api/datasets/"]["get"]["parameters"]
    }
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert "null" in parameters["page_size"]["description"]
    for name in ("created_from", "created_to"):
        assert parameters[name]["schema"] == {"type": "string", "format": "date"}
        assert "empty value is refused" in parameters[name]["description"]
