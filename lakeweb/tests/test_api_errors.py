"""Every error under /api/ is JSON, Django's own included; pages keep their HTML.

Django answers some requests before (or instead of) the API's views: an
oversize body, a bad Host header, a forged request, an address no route
takes, an unexpected error. Under /api/ each is ``{"detail": ...}`` with its
status, and nothing is stored.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, RequestFactory

from catalog import api as catalog_api
from catalog.models import Dataset, Promotion
from catalog.tests.factories import DatasetFactory
from lakeweb import http_errors
from lakeweb.api_parsers import JSON_MAX_DEPTH
from lakeweb.jobs.models import Job
from lakeweb.tokens.models import ApiToken
from lakeweb.tokens.services import api_token_create

pytestmark = pytest.mark.django_db


def rows() -> tuple[int, int, int]:
    return Dataset.objects.count(), Promotion.objects.count(), Job.objects.count()


@pytest.fixture
def dataset(users) -> Dataset:
    return DatasetFactory(owner=users["member"])


@pytest.fixture
def token(users) -> str:
    return api_token_create(user=users["curator"])[1]


@pytest.fixture
def api(token) -> Client:
    """A script's client: a token, no session, Django's errors answered rather than raised."""
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


def assert_json(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == detail


# --- 500 -------------------------------------------------------------------------------


def test_a_server_error_under_api_is_json(api, monkeypatch) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(catalog_api, "catalog_stats", broken)

    response = api.get("/api/stats/")

    assert_json(response, 500, http_errors.SERVER_ERROR)
    assert "a bug" not in response.content.decode()


def test_a_server_error_on_a_page_stays_html() -> None:
    response = http_errors.server_error(RequestFactory().get("/datasets/"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


# --- 400 / 413: requests Django refuses ------------------------------------------------


def test_a_json_body_over_the_api_limit_is_a_json_413(api, settings, users) -> None:
    settings.API_MAX_BODY_BYTES = 1000
    before = rows()

    response = api.post(
        "/api/datasets/register/",
        json.dumps({"name": "n" * 2000}),
        content_type="application/json",
    )

    assert_json(response, 413, "The JSON body is larger than the 1,000 bytes allowed.")
    assert rows() == before == (0, 0, 0)


def test_a_form_body_over_djangos_limit_is_a_json_413(api, settings, dataset) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = rows()

    response = api.post(f"/api/datasets/{dataset.pk}/promote/", {"target_layer": "x" * 2000})

    assert_json(response, 413, "The request body is larger than the 1,000 bytes allowed.")
    assert rows() == before


def test_too_many_form_fields_are_a_json_400(api, settings, dataset) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    before = rows()

    response = api.post(f"/api/datasets/{dataset.pk}/promote/", {f"f{n}": "x" for n in range(20)})

    assert_json(response, 400, "The request has more than the 10 fields allowed.")
    assert rows() == before


def test_a_bad_host_header_under_api_is_a_json_400(token) -> None:
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")

    response = client.get("/api/stats/", HTTP_HOST="evil.example")

    assert_json(response, 400, http_errors.BAD_REQUEST)


def test_a_bad_host_header_on_a_page_stays_html() -> None:
    response = Client(raise_request_exception=False).get("/health/", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


# --- 403: forged requests --------------------------------------------------------------


def session_client(user: Any) -> Client:
    """A browser's client: a session cookie, and CSRF checks as in production."""
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_a_malformed_id_with_a_token_and_a_cookie_is_a_json_404(users, token) -> None:
    client = session_client(users["curator"])
    before = rows()

    response = client.post(
        "/api/datasets/not-a-uuid/promote/",
        {"target_layer": "processed"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )

    assert_json(response, 404, http_errors.NOT_FOUND)
    assert rows() == before


def test_a_forged_post_under_api_is_a_json_403(users) -> None:
    client = session_client(users["curator"])

    response = client.post("/api/docs/")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith(http_errors.CSRF_REFUSED)
    assert "CSRF cookie not set" in response.json()["detail"]


def test_a_forged_post_on_a_page_stays_html(users) -> None:
    client = session_client(users["curator"])
    before = ApiToken.objects.count()

    response = client.post("/accounts/token/", {"action": "create"})

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert ApiToken.objects.count() == before


# --- 404 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/nowhere/", "/api/datasets/not-a-uuid/", "/api/datasets/%00/", "/api/backups/1/"],
)
def test_an_unknown_api_address_is_a_json_404(api, path: str) -> None:
    assert_json(api.get(path), 404, http_errors.NOT_FOUND)
    assert_json(api.delete(path), 404, http_errors.NOT_FOUND)


def test_djangos_404_under_api_is_json_and_html_elsewhere() -> None:
    factory = RequestFactory()
    api = http_errors.page_not_found(factory.get("/api/x/"), Exception("Resolver404"))
    page = http_errors.page_not_found(factory.get("/x/"), Exception("Resolver404"))

    assert (api.status_code, json.loads(api.content)) == (404, {"detail": http_errors.NOT_FOUND})
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


# --- JSON bodies: bounded before they are parsed ---------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body, detail",
    [
        (nested(100_000), f"The JSON body is nested more than {JSON_MAX_DEPTH} levels deep."),
        ("[" * 100_000, "The JSON body is not valid JSON."),
        ('{"name": "a\\u0000b"}', "In the JSON body, the text at name holds a NUL (\\u0000)"),
        ('{"tags": ["a", "\\ud800"]}', "In the JSON body, the text at tags[1] holds a NUL"),
        ('{"a\\udfff": 1}', "In the JSON body, a key in the top object holds a NUL"),
        ('{"n": 1e999}', "JSON parse error - 1e999 is too large a number"),
        ('{"n": NaN}', "JSON parse error - NaN is not a JSON number"),
        (b'{"name": "\xff"}', "JSON parse error - the body is not UTF-8 text."),
    ],
    ids=["deep", "unclosed", "nul", "surrogate", "surrogate-key", "infinite", "nan", "not-utf8"],
)
def test_a_body_beyond_the_bounds_is_a_400_that_stores_nothing(
    api, body: str | bytes, detail: str
) -> None:
    before = rows()

    response = api.post("/api/datasets/register/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert rows() == before


# --- the numbered pages' page_size -----------------------------------------------------


@pytest.mark.parametrize(
    "size, message",
    [
        ("null", "Enter a whole number."),
        ("", "Enter a whole number."),
        ("\u00b2", "Enter a whole number."),
        ("1_0", "Enter a whole number."),
        ("9" * 5000, "Enter a whole number."),
        ("0", "Ask for at least 1 item a page."),
    ],
    ids=["null", "empty", "superscript", "underscore", "long", "zero"],
)
def test_a_page_size_that_is_no_whole_number_is_refused(api, size: str, message: str) -> None:
    response = api.get("/api/backups/", {"page_size": size})

    assert response.status_code == 400
    assert response.json() == {
        "detail": f"page_size: {message}",
        "errors": {"page_size": [message]},
    }


def test_a_large_page_size_is_served_as_the_largest(api) -> None:
    assert api.get("/api/backups/", {"page_size": "999999999"}).status_code == 200


@pytest.mark.parametrize("page", ["", "0", "null", "last", "\u00b2", "9" * 5000])
def test_a_page_that_is_no_whole_number_from_1_is_refused(api, page: str) -> None:
    response = api.get("/api/backups/", {"page": page})

    assert response.status_code == 400
    assert response.json()["errors"] == {"page": ["Enter a whole number from 1."]}


def test_a_page_past_the_last_is_a_json_404(api) -> None:
    assert_json(api.get("/api/backups/", {"page": "2"}), 404, "Invalid page.")
