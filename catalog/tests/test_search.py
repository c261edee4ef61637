"""Catalog search: text, filters, sorts, keyset pages and facets, on the page.

Run on SQLite by default and on PostgreSQL in CI (full-text search, GIN
containment); the answers must be the same on both.
"""

from __future__ import annotations

import datetime
import json
import time
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog import selectors, services
from catalog.models import (
    CatalogVersion,
    Dataset,
    DatasetStatus,
    FieldValueTally,
    Source,
)
from catalog.selectors import DatasetQuery, paging
from catalog.selectors import search as search_module
from catalog.selectors.search import SORTS
from catalog.services.indexing import catalog_reindex

from .bad_queries import BAD_QUERIES, stored
from .factories import sealed_dataset as make

pytestmark = pytest.mark.django_db

URL = reverse("catalog:dataset_list")


def names(response) -> list[str]:
    page = response.context["page"]
    return [dataset.name for dataset in page.items]


def search(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200, response.content.decode()[:2000]
    return response


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("hela", ["HeLa time-lapse"]),  # name, any case
        ("EXP-0042", ["HeLa time-lapse"]),  # external id
        ("budding", ["Yeast growth curve"]),  # description
        ("spectroscopy", ["Raman spectra"]),  # tag
        ("bob", ["Yeast growth curve"]),  # metadata value
        ("microscopy alice", ["HeLa time-lapse"]),  # every word must match
        ("microscopy -alice", ["Yeast growth curve"]),  # minus excludes
        ("nothing-like-this", []),
    ],
)
def test_text_search(client_for, lab, q, expected) -> None:
    assert sorted(names(search(client_for("viewer"), q=q))) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("time-lapse", ["HeLa time-lapse"]),
        ("hela time-lapse", ["HeLa time-lapse"]),
        ('"hela time-lapse"', ["HeLa time-lapse"]),
        ("microscopy -time-lapse", ["Yeast growth curve"]),
        ("lapse-time", []),
    ],
)
def test_hyphenated_words(client_for, lab, q, expected) -> None:
    assert sorted(names(search(client_for("viewer"), q=q))) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's text search parser")
@pytest.mark.parametrize(
    ("terms", "tsquery"),
    [
        # A compound stands for its parts' phrase: GIN answers it without rechecking rows.
        ("hela time-lapse", "'hela' & 'time-lapse'"),
        ("-time-lapse hela", "!( 'time-lapse' ) & 'hela'"),
        ("x-ray-beam", "'x-ray-beam'"),
        # Inside a longer phrase the parts keep the positions the phrase counts.
        ('"a time-lapse movie"', "'a' <-> 'time-lapse' <-> 'time' <-> 'lapse' <-> 'movie'"),
        ("hela time", "'hela' & 'time'"),
    ],
)
def test_hyphenated_words_become_compounds(terms, tsquery) -> None:
    assert search_module._tsquery_text("simple", terms) == tsquery


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"layer": "processed"}, ["Raman spectra"]),
        ({"source": "instrument"}, ["Raman spectra"]),
        ({"tags": "microscopy"}, ["HeLa time-lapse", "Yeast growth curve"]),
        ({"tags": "microscopy,hela"}, ["HeLa time-lapse"]),
        ({"form": "Imaging"}, ["HeLa time-lapse", "Yeast growth curve"]),
        ({"owner": "curator@lab.example"}, ["Raman spectra"]),
        ({"field": "operator=alice"}, ["HeLa time-lapse"]),
        ({"field": "operator:bob"}, ["Yeast growth curve"]),
        ({"field": "magnification=100"}, ["Yeast growth curve"]),
        ({"field": "stained=yes"}, ["HeLa time-lapse"]),
        ({"field": "channels=green"}, ["Yeast growth curve"]),
        ({"field": "channels=red"}, ["HeLa time-lapse", "Yeast growth curve"]),
        ({"field": "source=instrument"}, ["Raman spectra"]),  # a mandatory key
    ],
)
def test_filters(client_for, lab, params, expected) -> None:
    assert sorted(names(search(client_for("viewer"), **params))) == expected


def test_filters_combine_and_form_by_id(client_for, lab, imaging_form) -> None:
    response = search(
        client_for("viewer"), form=str(imaging_form.pk), tags="microscopy", field="operator=alice"
    )
    assert names(response) == ["HeLa time-lapse"]


def test_date_range(client_for, lab) -> None:
    today = timezone.localdate()
    response = search(
        client_for("viewer"),
        created_from=(today - datetime.timedelta(days=20)).isoformat(),
        created_to=(today - datetime.timedelta(days=5)).isoformat(),
    )
    assert names(response) == ["Yeast growth curve"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["HeLa time-lapse", "Yeast growth curve", "Raman spectra"]),
        ("oldest", ["Raman spectra", "Yeast growth curve", "HeLa time-lapse"]),
        ("name", ["HeLa time-lapse", "Raman spectra", "Yeast growth curve"]),
        ("-name", ["Yeast growth curve", "Raman spectra", "HeLa time-lapse"]),
        ("largest", ["HeLa time-lapse", "Raman spectra", "Yeast growth curve"]),
        ("smallest", ["Yeast growth curve", "Raman spectra", "HeLa time-lapse"]),
    ],
)
def test_sorts(client_for, lab, sort, expected) -> None:
    assert names(search(client_for("viewer"), sort=sort)) == expected


def test_relevance_ranks_name_above_metadata(client_for, member) -> None:
    make(member, name="Plate reader export", description="Calibration for the confocal")
    make(member, name="Confocal stack")
    response = search(client_for("viewer"), q="confocal")
    found = names(response)
    assert sorted(found) == ["Confocal stack", "Plate reader export"]
    if connection.vendor == "postgresql":  # ranking is PostgreSQL's; elsewhere newest first
        assert found == ["Confocal stack", "Plate reader export"]


def test_search_is_in_the_url_and_kept_by_page_links(client_for, lab) -> None:
    page = search(client_for("viewer"), q="microscopy", sort="name").content.decode()
    assert 'value="microscopy"' in page
    assert "layer=raw" in page and "q=microscopy" in page  # facet links keep the query


# --- paging ------------------------------------------------------------------------


def walk(client, params) -> list[list[str]]:
    """Follow the page's own Next links to the end."""
    pages, query = [], dict(params)
    while True:
        response = search(client, **query)
        pages.append(names(response))
        page = response.context["page"]
        if not page.has_next:
            return pages
        assert page.next_cursor  # date, name and size orders page by keyset
        link = response.content.decode().split('rel="next" href="')[1].split('"')[0]
        query = {k: v[0] for k, v in parse_qs(urlparse(link.replace("&amp;", "&")).query).items()}
        assert query["after"] == page.next_cursor


@pytest.mark.parametrize("sort", ["newest", "oldest", "name", "-name", "largest", "smallest"])
def test_keyset_pages_cover_every_dataset_once_in_order(client_for, many, sort) -> None:
    client = client_for("viewer")
    pages = walk(client, {"sort": sort})
    assert [len(page) for page in pages] == [25, 25, 10]
    flat = [name for page in pages for name in page]
    query = DatasetQuery(sort=sort)
    expected = list(
        selectors.dataset_ordered(selectors.dataset_filter(query=query), query=query).values_list(
            "name", flat=True
        )
    )
    assert flat == expected
    # Numbered pages (offsets) agree with the keyset walk.
    assert names(search(client, sort=sort, page=2)) == pages[1]


def test_previous_link_goes_back(client_for, many) -> None:
    client = client_for("viewer")
    first = search(client)
    second = search(client, after=first.context["page"].next_cursor, page=2)
    back = search(client, before=second.context["page"].previous_cursor, page=1)
    assert names(back) == names(first)
    assert not back.context["page"].has_previous


def test_page_past_the_end_is_empty_not_an_error(client_for, many) -> None:
    response = search(client_for("viewer"), page=99)
    assert names(response) == [] and "No datasets on this page" in response.content.decode()


def test_a_page_past_the_end_reads_no_datasets(many) -> None:
    # An offset past the last match would skip through every one of them.
    with CaptureQueriesContext(connection) as captured:
        page = selectors.dataset_page(query=DatasetQuery(), number=10_000)
    assert page.items == [] and page.has_previous and not page.has_next
    assert not [q for q in captured.captured_queries if "OFFSET" in q["sql"].upper()]


def _aware(year: int, month: int, day: int, hour: int = 0, second: int = 0) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(year, month, day, hour, 0, second))


@pytest.mark.parametrize("sort", ["newest", "oldest"])
@pytest.mark.parametrize("layer", ["", "raw"])
def test_deep_pages_found_by_month_are_the_offset_pages(
    member, monkeypatch, settings, sort, layer
) -> None:
    """Numbered pages in date order start from the tallies' months; same rows as an offset."""
    settings.TIME_ZONE = "Europe/Berlin"  # months begin at local midnight, not UTC's
    made = [
        make(member, name=f"M{n:02}", layer="processed" if n % 4 == 0 else "raw") for n in range(26)
    ]
    # Spread over five months, with datasets either side of local month starts.
    stamps = [_aware(2026, 1 + n % 5, 1 + (n * 3) % 27, hour=n % 24) for n in range(22)]
    stamps += [_aware(2026, 3, 1), _aware(2026, 2, 28, 23, 59), _aware(2026, 4, 1)]
    stamps += [_aware(2026, 3, 31, 23, 59)]
    for dataset, stamp in zip(made, stamps, strict=True):
        Dataset.objects.filter(pk=dataset.pk).update(created_at=stamp)
    catalog_reindex(search=False, folders=False)  # tallies by local month
    jumps = []
    real_jump = paging._month_jump
    monkeypatch.setattr(paging, "MONTH_JUMP_FROM", 1)
    monkeypatch.setattr(
        paging, "_month_jump", lambda *args: jumps.append(args[3]) or real_jump(*args)
    )

    query = DatasetQuery(layer=layer, sort=sort)
    expected = list(
        selectors.dataset_filter(query=query).order_by(*SORTS[sort]).values_list("pk", flat=True)
    )
    assert len(expected) == (19 if layer else 26)
    got, number = [], 1
    while True:
        page = selectors.dataset_page(query=query, number=number, size=3)
        got += [dataset.pk for dataset in page.items]
        if not page.has_next:
            break
        number += 1
    assert got == expected
    assert jumps == [3 * n for n in range(1, number)]  # every page after the first


def test_first_page_runs_the_same_queries_for_5_or_60_datasets(
    client_for, member, imaging_form
) -> None:
    client = client_for("viewer")
    for n in range(5):
        make(member, name=f"A{n}", form=imaging_form, tags=[f"t{n}"])
    search(client)  # warm the session and permission caches
    cache.clear()  # render the results, not the cached copy
    with CaptureQueriesContext(connection) as few:
        search(client)
    for n in range(55):
        make(member, name=f"B{n}", form=imaging_form, tags=[f"t{n}", "common"], source=f"s{n % 5}")
    with CaptureQueriesContext(connection) as lots:
        search(client)
    assert len(lots) == len(few)


def test_results_are_cached_until_the_catalog_changes(client_for, member) -> None:
    client = client_for("viewer")
    make(member, name="First")
    search(client, q="first")
    with CaptureQueriesContext(connection) as again:
        page = search(client, q="first").content.decode()
    assert "First" in page
    assert not [q for q in again.captured_queries if '"catalog_dataset"' in q["sql"]]
    make(member, name="First again")  # sealing makes a new catalog version
    assert "First again" in search(client, q="first").content.decode()
    other = client_for("curator")  # every browsing user sees the same results
    assert "First again" in search(other, q="first").content.decode()


def test_counts_follow_a_source_renamed_since_they_were_cached(lab) -> None:
    assert selectors.dataset_counts(query=DatasetQuery(source="instrument")).total == 1
    Source.objects.filter(slug="instrument").update(slug="raman-rig")  # no new version
    assert selectors.dataset_counts(query=DatasetQuery(source="raman-rig")).total == 1


def test_a_shared_cache_keeps_the_catalog_version(
    settings, member, django_capture_on_commit_callbacks
) -> None:
    settings.CACHE_URL = "redis://shared"  # its presence is what counts; tests cache in memory
    first = selectors.catalog_version()
    with CaptureQueriesContext(connection) as captured:
        assert selectors.catalog_version() == first
    assert not captured  # read back from the cache
    with django_capture_on_commit_callbacks(execute=True):
        make(member, name="New")  # sealing sets the new number as it commits
    with CaptureQueriesContext(connection) as captured:
        second = selectors.catalog_version()
    assert not captured
    assert second != first
    assert second == CatalogVersion.objects.get(pk=1).number


# --- facets --------------------------------------------------------------------------


def facet_counts(response, group: str) -> dict[str, int | None]:
    return {f.value: f.count for f in getattr(response.context["facets"], group)}


def test_facets_from_tallies_match_the_datasets(client_for, lab) -> None:
    response = search(client_for("viewer"))
    assert facet_counts(response, "layers") == {"raw": 2, "processed": 1}
    assert facet_counts(response, "sources") == {"upload": 2, "instrument": 1}
    assert facet_counts(response, "tags") == {"microscopy": 2, "hela": 1, "spectroscopy": 1}
    assert response.context["page"].total == 3 and response.context["page"].total_exact


def test_facets_of_a_text_search_count_its_matches(client_for, lab) -> None:
    response = search(client_for("viewer"), q="microscopy")
    assert facet_counts(response, "layers") == {"raw": 2}
    assert facet_counts(response, "tags") == {"microscopy": 2, "hela": 1}


def test_a_deleted_dataset_leaves_the_facets(client_for, lab, curator) -> None:
    services.dataset_delete(dataset=lab["spectra"], user=curator)
    response = search(client_for("viewer"))
    assert facet_counts(response, "layers") == {"raw": 2}
    assert "processed" not in facet_counts(response, "layers")


def test_counts_read_once_per_catalog_version(lab, member, curator) -> None:
    query = DatasetQuery()
    before = selectors.dataset_counts(query=query)
    with CaptureQueriesContext(connection) as again:
        assert selectors.dataset_counts(query=query) == before
    assert not [q for q in again.captured_queries if "tally" in q["sql"]]
    added = make(member, name="One more", layer="processed", tags=["hela"])
    after = selectors.dataset_counts(query=query)
    assert after.total == 4 and after.layers["processed"] == 2 and after.tags["hela"] == 2
    services.dataset_delete(dataset=added, user=curator)
    assert selectors.dataset_counts(query=query) == before


def test_a_text_search_is_counted_once_per_catalog_version(lab, member, curator) -> None:
    query = DatasetQuery(q="microscopy")
    before = selectors.dataset_counts(query=query)
    assert before.total == 2 and before.exact
    with CaptureQueriesContext(connection) as again:
        # Another sort of the same search: the same counts, from the cache.
        assert selectors.dataset_counts(query=DatasetQuery(q="microscopy", sort="name")) == before
    assert not [q for q in again.captured_queries if "catalog_dataset" in q["sql"]]
    added = make(member, name="More microscopy", layer="processed", tags=["microscopy"])
    assert selectors.dataset_counts(query=query).total == 3
    services.dataset_delete(dataset=added, user=curator)
    assert selectors.dataset_counts(query=query) == before


def test_text_searches_by_owner_or_source_are_counted_afresh(lab, member) -> None:
    """An account's email or a source's slug can change under one catalog version."""
    for query in (DatasetQuery(q="microscopy", owner="member@lab.example"),
                  DatasetQuery(q="microscopy", source="upload")):  # fmt: skip
        assert selectors.dataset_counts(query=query).total == 2
        with CaptureQueriesContext(connection) as again:
            selectors.dataset_counts(query=query)
        assert [q for q in again.captured_queries if "catalog_dataset" in q["sql"]]


def value_tallies() -> dict[tuple[str, str, bool, str], int]:
    rows = FieldValueTally.objects.filter(datasets__gt=0)
    return {(r.name, r.value, r.in_list, r.layer): r.datasets for r in rows}


def test_value_tally_counts_what_field_searches_match(lab, member, curator) -> None:
    tallies = value_tallies()
    assert tallies[("operator", '"alice"', False, "raw")] == 1
    assert tallies[("channels", '"red"', True, "raw")] == 2  # elements of multiple choices
    assert tallies[("magnification", "100", False, "raw")] == 1
    assert tallies[("stained", "true", False, "raw")] == 1
    assert tallies[("source", '"instrument"', False, "processed")] == 1  # a top-level key
    # Sealing and deleting keep it equal to a rebuild from the datasets themselves.
    extra = make(member, name="Another", experiment={"operator": "alice"})
    assert value_tallies()[("operator", '"alice"', False, "raw")] == 2
    services.dataset_delete(dataset=lab["spectra"], user=curator)
    kept = value_tallies()
    catalog_reindex(search=False, folders=False)
    assert value_tallies() == kept
    assert extra.pk  # still counted after the rebuild
    # Never more than the search finds: the tally is read as a lower bound.
    for (name, text, _in_list, layer), n in kept.items():
        value = json.loads(text)
        typed = ("yes" if value else "no") if isinstance(value, bool) else str(value)
        query = DatasetQuery(layer=layer, fields=((name, typed),))
        assert n <= selectors.dataset_filter(query=query).count()


def test_a_lone_common_field_value_is_not_read_to_be_counted(
    client_for, member, imaging_form, monkeypatch
) -> None:
    monkeypatch.setattr("catalog.selectors.counts.COUNT_LIMIT", 2)
    for n in range(3):
        make(member, name=f"P{n}", form=imaging_form, experiment={"operator": "priya"})
    make(member, name="Q", form=imaging_form, experiment={"operator": "quinn"})
    client = client_for("viewer")
    with CaptureQueriesContext(connection) as broad:
        page = search(client, field="operator=priya").context["page"]
    assert (page.total, page.total_exact, len(page.items)) == (2, False, 3)
    probes = [q for q in broad.captured_queries if "LIMIT 3" in q["sql"].upper()]
    assert not probes  # the tally knew: 3 datasets have the value
    with CaptureQueriesContext(connection) as narrow:
        page = search(client, field="operator=quinn").context["page"]
    assert (page.total, page.total_exact) == (1, True)
    assert [q for q in narrow.captured_queries if "LIMIT 3" in q["sql"].upper()]
    # With another filter the tally bounds nothing: the matches are read.
    page = search(client, field="operator=priya", owner="member@lab.example").context["page"]
    assert (page.total, page.total_exact) == (2, False)


def test_broad_searches_stop_counting(client_for, many, monkeypatch) -> None:
    monkeypatch.setattr("catalog.selectors.counts.COUNT_LIMIT", 10)
    response = search(client_for("viewer"), q="run")
    page = response.context["page"]
    assert (page.total, page.total_exact, page.unranked) == (10, False, True)
    assert not response.context["facets"].counted
    assert "More than 10 datasets" in response.content.decode()
    assert len(page.items) == 25  # the page itself is whole


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"layer": "gold"}, "&#x27;gold&#x27; is not a layer"),
        ({"source": "nowhere"}, "There is no source &#x27;nowhere&#x27;"),
        ({"tags": "nosuchtag"}, "There is no tag &#x27;nosuchtag&#x27;"),
        ({"form": "Nope"}, "There is no metadata form &#x27;Nope&#x27;"),
        # str.isdigit() takes '²', which int() refuses: a 400, not a 500.
        ({"form": "\u00b2"}, "There is no metadata form &#x27;\u00b2&#x27;"),
        ({"form": "9" * 40}, "There is no metadata form &#x27;9999"),
        ({"field": "operator"}, "is not of the form field=value"),
        ({"field": "op'erator=1"}, "is not of the form field=value"),
        ({"field": "nosuchfield=1"}, "No metadata form has a field &#x27;nosuchfield&#x27;"),
        ({"sort": "price"}, "&#x27;price&#x27; is not a sort"),
        ({"page": "0"}, "page: Ensure this value is greater than or equal to 1"),
        ({"page": "x"}, "page: Enter a whole number"),
        ({"created_from": "2024-13-01"}, "created_from: Enter a valid date"),
        ({"created_from": "2024-02-01", "created_to": "2024-01-01"}, "before the start date"),
        ({"after": "garbage!!"}, "This page link is damaged"),
        *BAD_QUERIES,
    ],
)
def test_bad_input_is_refused_clearly(client_for, lab, params, message) -> None:
    before = stored()
    began = time.monotonic()
    response = client_for("viewer").get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert time.monotonic() - began < 2  # refused before anything expensive
    assert stored() == before


# A lone surrogate cannot be stored or even encoded; in a URL its bytes are
# decoded to U+FFFD, which is just a character that matches nothing.
@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("tags=%ED%A0%80", 400, "There is no tag &#x27;\ufffd\ufffd\ufffd&#x27;"),
        ("q=%ED%A0%80", 200, "No datasets match."),
        ("field=operator%3D%ED%A0%80", 200, "No datasets match."),
        ("owner=%ED%A0%80", 200, "No datasets match."),
    ],
)
def test_lone_surrogates_in_the_url_match_nothing(client_for, lab, query, status, message) -> None:
    before = stored()
    response = client_for("viewer").get(f"{URL}?{query}")
    assert response.status_code == status
    assert message in response.content.decode()
    assert stored() == before


@pytest.mark.parametrize(
    "value", ["1" + "0" * 17, "-" + "9" * 18, "1e17", "0e999999", "1e-300", "2.5"]
)
def test_numbers_within_range_are_searched(client_for, lab, value) -> None:
    response = search(client_for("viewer"), field=f"magnification={value}")
    assert names(response) == []


@pytest.mark.parametrize("value", ["9" * 30, "1e999999", "1e-999999"])
def test_a_long_number_is_searched_as_text_in_a_text_field(
    client_for, lab, member, imaging_form, dataset_factory, value
) -> None:
    """Beyond the numbers the search can look for, a text field's value is still text
    (a long barcode); only a field that holds numbers alone refuses it."""
    dataset_factory(
        owner=member, name="Barcoded", form=imaging_form, experiment={"operator": value}
    )
    before = stored()
    began = time.monotonic()
    response = search(client_for("viewer"), field=f"operator={value}")
    assert names(response) == ["Barcoded"]
    assert time.monotonic() - began < 2
    assert stored() == before
    refused = client_for("viewer").get(URL, {"field": f"magnification={value}"})
    assert refused.status_code == 400
    assert "a number to search for" in refused.content.decode()


def test_the_first_and_last_dates_bound_nothing(client_for, lab) -> None:
    response = search(client_for("viewer"), created_from="0001-01-01", created_to="9999-12-31")
    assert len(names(response)) == 3


@pytest.mark.parametrize("role", ["viewer", "anonymous"])
def test_owner_filter_does_not_tell_whether_an_account_exists(
    client_for, lab, django_user_model, settings, role
) -> None:
    """An account without datasets and no account at all get the same answer."""
    settings.LAKEWEB_PUBLIC_BROWSING = True
    django_user_model.objects.create_user(username="quiet@lab.example", email="quiet@lab.example")
    client = client_for(role)
    answers = []
    for owner in ("quiet@lab.example", "ghost@lab.example"):
        response = client.get(URL, {"owner": owner})
        page = response.context["search"].replace(owner, "OWNER")
        answers.append((response.status_code, names(response), page))
    assert answers[0] == answers[1]
    assert answers[0][:2] == (200, [])


def test_cursor_of_another_sort_is_refused(client_for, many) -> None:
    client = client_for("viewer")
    cursor = search(client, sort="name").context["page"].next_cursor
    response = client.get(URL, {"sort": "oldest", "after": cursor})
    assert response.status_code == 400
    assert "made for another sort order" in response.content.decode()


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE catalog_dataset; --",
        "a & | ! : * ( ) <-> \\",
        '"unterminated',
        "hela OR",
        "-",
        "%_%",
    ],
)
def test_hostile_text_is_just_text(client_for, lab, q) -> None:
    response = client_for("viewer").get(URL, {"q": q})
    assert response.status_code == 200
    assert Dataset.objects.filter(status=DatasetStatus.READY).count() == 3


@pytest.mark.parametrize("value", ["' OR 1=1 --", '{"operator": "alice"}', "alice\\", "%"])
def test_hostile_field_values_match_nothing(client_for, lab, value) -> None:
    response = client_for("viewer").get(URL, {"field": f"operator={value}"})
    assert response.status_code == 200
    assert names(response) == []
