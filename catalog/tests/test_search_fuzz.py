"""Whatever a viewer puts in the catalog's query string, the answer is a clear one, in time.

Hypothesis writes query strings from the catalog's parameters (``q``,
``layer``, ``source``, ``tags``, ``form``, ``owner``, dates, ``field``,
``sort``, ``page``, ``page_size``, cursors), each repeated or not, with
values that are valid, near misses, huge numbers, NUL, raw bytes that are no
UTF-8 (lone surrogates among them) and plain noise. On the page and on the
API, as a viewer: no 5xx, only statuses the API documents for the list, and
no answer slower than 2 s (SPEC §5). Bounded in examples so that CI runs
both in well under a minute.
"""

from __future__ import annotations

import time
from urllib.parse import quote, quote_from_bytes

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog.models import Layer

from .bad_queries import cursor, stored

pytestmark = pytest.mark.django_db

PAGE = reverse("catalog:dataset_list")
API = reverse("api:dataset_list")
# What SPEC §5 asks the schema to document for the list at least; the page
# (HTML) answers a search or says what is wrong with it.
REFUSALS = {400, 401, 403, 404}
PAGE_STATUSES = {200, 400}
SLOWEST = 2.0
FUZZ = settings(
    max_examples=80,
    deadline=None,  # time is asserted per request below, as the spec states it
)

FIELDS = ["operator", "magnification", "stained", "channels", "source", "nosuchfield", "op'x"]

numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=-(10**7), max_value=10**7).map(lambda e: f"1e{e}"),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0", "-0", "1" + "0" * 18, "NaN", "Infinity", "1_000", "\u00b2", "12 "]),
)
words = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["hela", "time-lapse", '"a phrase', "-", "alice", "red", "yes", "null", ""]),
)


def encoded(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.map(lambda text: quote(text, safe=""))


# Bytes that are no UTF-8 (%ED%A0%80 would be a lone surrogate), or hold NUL.
raw_bytes = st.one_of(
    st.binary(max_size=12), st.sampled_from([b"\xed\xa0\x80", b"a\x00b", b"\xff\xfe"])
).map(quote_from_bytes)
hostile = st.one_of(encoded(numbers), encoded(words), raw_bytes)
# A page link's sort value: any JSON, text with NUL or a lone surrogate among it.
sort_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["a\x00", "\ud800", "2024-01-01T00:00:00", "9999-12-31T23:59:59+14:00"]),
)
cursors = st.builds(
    cursor,
    st.sampled_from(["newest", "oldest", "name", "-name", "largest", "smallest"]),
    sort_values,
    st.uuids().map(str),
)
# Each parameter's plausible values; a query mixes them with hostile ones, so
# that a hostile value is not always hidden behind another one's refusal.
PLAUSIBLE = {
    "q": encoded(words),
    "layer": st.sampled_from(Layer.values),
    "source": st.sampled_from(["upload", "instrument"]),
    "tags": st.sampled_from(["microscopy", "hela", "microscopy,hela", "spectroscopy"]),
    "form": st.sampled_from(["Imaging"]),
    "owner": st.sampled_from(["member@lab.example", "curator@lab.example", "ghost@lab.example"]),
    "created_from": st.dates().map(lambda day: day.isoformat()),
    "created_to": st.dates().map(lambda day: day.isoformat()),
    "field": st.builds(
        lambda name, sep, value: quote(name + sep, safe="") + value,
        st.sampled_from(FIELDS),
        st.sampled_from(["=", ":", "=="]),
        st.one_of(encoded(numbers), encoded(words), raw_bytes),
    ),
    "sort": st.sampled_from(["relevance", "newest", "oldest", "name", "-name", "largest"]),
    "page": st.integers(min_value=-1, max_value=10**8).map(str),
    "page_size": st.integers(min_value=-1, max_value=10**6).map(str),
    "after": cursors,
    "before": cursors,
}
pairs = st.sampled_from(sorted(PLAUSIBLE)).flatmap(
    lambda name: st.tuples(st.just(name), st.one_of(PLAUSIBLE[name], PLAUSIBLE[name], hostile))
)
query_strings = st.lists(pairs, max_size=8).map(
    lambda items: "&".join(f"{name}={value}" for name, value in items)
)


def answer(client, url: str, query: str) -> tuple[int, float]:
    began = time.monotonic()
    response = client.get(f"{url}?{query}")
    return response.status_code, time.monotonic() - began


@pytest.fixture
def documented(api_for) -> set[int]:
    """The statuses the API schema gives the list (SPEC §5's refusals until it lists any)."""
    schema = api_for("viewer").get(reverse("api:schema"), {"format": "json"}).json()
    listed = {int(code) for code in schema["paths"][API]["get"]["responses"] if code.isdigit()}
    return listed if listed & REFUSALS else listed | REFUSALS


def test_the_page_answers_any_query_string_clearly_and_in_time(client_for, lab) -> None:
    client, before = client_for("viewer"), stored()

    @FUZZ
    @given(query=query_strings)
    def check(query: str) -> None:
        status, seconds = answer(client, PAGE, query)
        assert status in PAGE_STATUSES, query
        assert seconds < SLOWEST, query

    check()
    assert stored() == before


def test_the_api_answers_any_query_string_as_documented_and_in_time(
    api_for, lab, documented
) -> None:
    client, before = api_for("viewer"), stored()

    @FUZZ
    @given(query=query_strings)
    def check(query: str) -> None:
        status, seconds = answer(client, API, query)
        assert status in documented, query
        assert seconds < SLOWEST, query

    check()
    assert stored() == before
