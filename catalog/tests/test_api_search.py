"""The API list runs the catalog page's search: same filters, same refusals, keyset links."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog import services

from .bad_queries import BAD_QUERIES, stored
from .factories import promote_dataset, sealed_dataset

pytestmark = pytest.mark.django_db

URL = reverse("api:dataset_list")


def names(body) -> list[str]:
    return sorted(item["name"] for item in body["results"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "budding"}, ["Yeast growth curve"]),
        ({"tags": "microscopy,hela"}, ["HeLa time-lapse"]),
        ({"form": "Imaging", "layer": "raw"}, ["HeLa time-lapse", "Yeast growth curve"]),
        ({"owner": "curator@lab.example"}, ["Raman spectra"]),
        ({"field": ["operator=alice", "stained=yes"]}, ["HeLa time-lapse"]),
        ({"field": "channels=green"}, ["Yeast growth curve"]),
        ({"source": "instrument", "sort": "name"}, ["Raman spectra"]),
    ],
)
def test_api_filters(api_for, lab, params, expected) -> None:
    response = api_for("viewer").get(URL, params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert names(body) == expected
    assert body["count"] == len(expected) and body["count_exact"] is True


def test_the_list_is_kept_until_the_catalog_changes(api_for, member, curator, settings) -> None:
    first = sealed_dataset(member, name="Kept first")
    client = api_for("viewer")
    assert names(client.get(URL, {"q": "kept"}).json()) == ["Kept first"]
    with CaptureQueriesContext(connection) as again:
        body = client.get(URL, {"q": "kept"}).json()
    assert names(body) == ["Kept first"] and body["results"][0]["url"].startswith("http://")
    assert not [q for q in again.captured_queries if '"catalog_dataset"' in q["sql"]]
    sealed_dataset(member, name="Kept second")  # sealing makes a new catalog version
    assert names(client.get(URL, {"q": "kept"}).json()) == ["Kept first", "Kept second"]
    # Every browsing user gets the same answer; another host gets its own links.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "lake.example"]
    other = api_for("curator").get(URL, {"q": "kept"}, HTTP_HOST="lake.example")
    assert other.json()["results"][0]["url"].startswith("http://lake.example/")
    processed = promote_dataset(first, curator)
    assert names(client.get(URL, {"layer": "processed"}).json()) == ["Kept first"]
    services.dataset_delete(dataset=processed, user=curator)  # deleting makes a new one too
    assert names(client.get(URL, {"layer": "processed"}).json()) == []


def test_api_next_links_walk_every_dataset_once(api_for, many) -> None:
    client, seen, url = api_for("viewer"), [], URL + "?sort=name&page_size=7"
    while url:
        body = client.get(url).json()
        seen += [item["name"] for item in body["results"]]
        url = body["next"]
    assert seen == sorted(f"Run {n:03}" for n in range(60))
    assert body["previous"] and "before=" in body["previous"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"tags": "nosuchtag"}, "tags: There is no tag 'nosuchtag'."),
        ({"form": "\u00b2"}, "form: There is no metadata form '\u00b2'."),
        ({"field": "nosuchfield=1"}, "field: No metadata form has a field 'nosuchfield'."),
        ({"field": "x'); DROP TABLE catalog_dataset; --"}, "is not of the form field=value"),
        ({"sort": "price"}, "sort: 'price' is not a sort"),
        ({"after": "bm90LWEtY3Vyc29y"}, "This page link is damaged"),
        ({"page_size": "many"}, "page_size: Enter a whole number from 1 to 200."),
        ({"page_size": "null"}, "page_size: Enter a whole number from 1 to 200."),
        ({"page_size": "-3"}, "page_size: Ask for at least 1 dataset a page."),
        ({"page_size": ""}, "page_size: Give a value, or leave the parameter out."),
        ({"created_from": ""}, "created_from: Give a value, or leave the parameter out."),
        ({"created_to": " "}, "created_to: Give a value, or leave the parameter out."),
        ({"page": ""}, "page: Give a value, or leave the parameter out."),
        ({"layer": ""}, "layer: Give a value, or leave the parameter out."),
        ({"sort": ""}, "sort: Give a value, or leave the parameter out."),
        ({"source": ""}, "source: Give a value, or leave the parameter out."),
        ({"q": " "}, "q: Give a value, or leave the parameter out."),
        ({"tags": ["hela", ""]}, "tags: Give a value, or leave the parameter out."),
        *BAD_QUERIES,
    ],
)
def test_api_bad_filters_are_400_with_a_message(api_for, lab, params, message) -> None:
    before = stored()
    began = time.monotonic()
    response = api_for("viewer").get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["detail"]
    assert time.monotonic() - began < 2  # refused before anything expensive
    assert stored() == before


@pytest.mark.parametrize(("asked", "given"), [("7", 7), ("007", 7), ("200", 200), ("9" * 40, 200)])
def test_api_page_size_is_capped_not_refused(api_for, many, asked, given) -> None:
    response = api_for("viewer").get(URL, {"page_size": asked})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(given, 60)


@pytest.mark.parametrize("role", ["viewer", "anonymous"])
def test_api_owner_filter_does_not_tell_whether_an_account_exists(
    api_for, lab, django_user_model, settings, role
) -> None:
    settings.LAKEWEB_PUBLIC_BROWSING = True
    django_user_model.objects.create_user(username="quiet@lab.example", email="quiet@lab.example")
    client = api_for(role)
    quiet = client.get(URL, {"owner": "quiet@lab.example"})
    ghost = client.get(URL, {"owner": "ghost@lab.example"})
    assert quiet.status_code == ghost.status_code == 200
    assert (
        quiet.json()
        == ghost.json()
        == {
            "count": 0,
            "count_exact": True,
            "order": "newest",
            "next": None,
            "previous": None,
            "results": [],
        }
    )


def test_api_long_number_in_a_text_field_is_text(
    api_for, lab, member, imaging_form, dataset_factory
) -> None:
    barcode = "4" * 30
    dataset_factory(
        owner=member, name="Barcoded", form=imaging_form, experiment={"operator": barcode}
    )
    response = api_for("viewer").get(URL, {"field": f"operator={barcode}"})
    assert response.status_code == 200, response.json()
    assert names(response.json()) == ["Barcoded"]


def test_api_field_value_injection_is_just_a_value(api_for, lab) -> None:
    response = api_for("viewer").get(URL, {"field": "operator=alice' OR '1'='1"})
    assert response.status_code == 200 and response.json()["results"] == []
