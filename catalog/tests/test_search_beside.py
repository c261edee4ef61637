"""A search's count read on a second connection while the page is read (PostgreSQL).

Outside a transaction, ``dataset_counts_begin`` starts the read of the
matches beside the request (``lakeweb.db.read_beside``) and the page is read
meanwhile in the order a broad search gets. These tests commit their rows
(a transactional test) so that the second connection sees them, and compare
every answer with the same search counted on the request's own connection.
"""

from __future__ import annotations

import threading

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse

from catalog import selectors
from catalog.selectors import DatasetQuery

from .factories import sealed_dataset as make

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="reads beside need a second connection"
    ),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def beside(monkeypatch) -> list[int]:
    """The threads that read counts beside: the real ``read_beside``, watched."""
    import catalog.selectors.counts as counts

    threads: list[int] = []
    real = counts.read_beside

    def watched(read):
        def read_and_tell():
            threads.append(threading.get_ident())
            return read()

        return real(read_and_tell)

    monkeypatch.setattr(counts, "read_beside", watched)
    return threads


def both_ways(query: DatasetQuery, **paging) -> tuple[selectors.DatasetPage, ...]:
    """The page with its count read beside, then read on this connection alone."""
    cache.clear()
    beside = selectors.dataset_page(
        query=query, counts=selectors.dataset_counts_begin(query=query), **paging
    )
    cache.clear()
    with transaction.atomic():  # inside a transaction nothing is read beside
        alone = selectors.dataset_page(query=query, **paging)
    return beside, alone


def summary(page: selectors.DatasetPage) -> tuple[object, ...]:
    names = [dataset.name for dataset in page.items]
    return (names, page.total, page.total_exact, page.unranked, page.order, page.has_next)


def test_a_broad_search_is_counted_beside_and_shown_newest_first(
    member, monkeypatch, beside
) -> None:
    monkeypatch.setattr("catalog.selectors.counts.COUNT_LIMIT", 3)
    for n in range(5):
        make(member, name=f"Run {n}", days_ago=n)
    page, alone = both_ways(DatasetQuery(q="run"))
    assert len(beside) == 1 and beside[0] != threading.get_ident()
    assert summary(page) == summary(alone)
    assert summary(page) == (
        ["Run 0", "Run 1", "Run 2", "Run 3", "Run 4"], 3, False, True, "newest", False
    )  # fmt: skip


def test_a_narrow_search_counted_beside_is_ranked(member, monkeypatch, beside) -> None:
    make(member, name="Zebrafish", description="a zebrafish tank", days_ago=2)
    make(member, name="Tank", description="zebrafish", days_ago=1)
    make(member, name="Other", description="nothing")
    page, alone = both_ways(DatasetQuery(q="zebrafish"))
    assert beside
    assert summary(page) == summary(alone)
    assert summary(page) == (["Zebrafish", "Tank"], 2, True, False, "relevance", False)


def test_a_page_past_the_end_is_empty_when_counted_beside(member, beside) -> None:
    for n in range(3):
        make(member, name=f"Run {n}", days_ago=n)
    page, alone = both_ways(DatasetQuery(q="run", sort="name"), number=5, size=2)
    assert beside
    assert summary(page) == summary(alone) == ([], 3, True, False, "name", False)
    assert page.has_previous


def test_the_catalog_page_and_the_api_count_beside(
    client_for, api_for, member, monkeypatch, beside
) -> None:
    monkeypatch.setattr("catalog.selectors.counts.COUNT_LIMIT", 3)
    for n in range(5):
        make(member, name=f"Run {n}", days_ago=n, tags=["flow"])
    cache.clear()
    response = client_for("viewer").get(reverse("catalog:dataset_list"), {"q": "run"})
    assert response.status_code == 200
    assert "More than 3 datasets" in response.content.decode()
    assert [d.name for d in response.context["page"].items][:2] == ["Run 0", "Run 1"]
    cache.clear()
    answer = api_for("viewer").get("/api/datasets/", {"q": "run tank"})
    assert answer.status_code == 200
    assert (answer.json()["count"], answer.json()["count_exact"]) == (0, True)
    assert len(beside) == 2
