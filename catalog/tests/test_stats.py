"""The figures of the dashboard, the layers page and the stats API, read from the tallies."""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db.models import Count, Sum
from django.utils import timezone

from catalog import services
from catalog.models import (
    Dataset,
    DatasetStatus,
    DatasetTally,
    Layer,
    Promotion,
    Source,
    TagTally,
)
from catalog.services.indexing import catalog_reindex
from catalog.stats import (
    catalog_stats,
    dashboard_figures,
    layer_totals,
    month_start_back,
    promotions_recent,
    source_totals,
    uploads_per_month,
)

from .factories import FILES, promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

SIZE = sum(len(data) for data in FILES.values())


def upload_from(owner, source: Source, *, name: str = "Run", files=None, tags=("t",)) -> Dataset:
    """A ready raw dataset from ``source``, with no metadata form, through the upload service."""
    draft = services.DatasetDraft(
        owner=owner, name=name, source=source, experiments=[{}], tags=list(tags)
    )
    items = [
        services.UploadedItem(path=path, stream=io.BytesIO(data))
        for path, data in (files or {"data.bin": b"x" * 10}).items()
    ]
    return services.dataset_upload(draft=draft, items=items)


def direct_stats() -> dict[str, Any]:
    """What ``catalog_stats`` must say, counted over the datasets themselves."""
    ready = Dataset.objects.filter(status=DatasetStatus.READY).order_by()
    per_layer = dict.fromkeys(Layer.values, 0)
    for row in ready.values("layer").annotate(n=Count("id")):
        per_layer[row["layer"]] = row["n"]
    per_source = (
        ready.values("source__slug", "source__name")
        .annotate(n=Count("id"), size=Sum("total_size"))
        .order_by("source__slug")
    )
    return {
        "datasets_per_layer": per_layer,
        "bytes_per_source": [
            {
                "source": row["source__slug"],
                "name": row["source__name"],
                "datasets": row["n"],
                "bytes": row["size"] or 0,
            }
            for row in per_source
        ],
    }


def tallies() -> tuple[dict[tuple, tuple[int, int]], dict[tuple, int]]:
    """The tallies that count something (a deletion leaves rows at zero behind)."""
    datasets = {
        (row.layer, row.source_id, row.form_id, row.month): (row.datasets, row.bytes)
        for row in DatasetTally.objects.exclude(datasets=0, bytes=0)
    }
    tags = {(row.tag_id, row.layer): row.datasets for row in TagTally.objects.exclude(datasets=0)}
    return datasets, tags


@pytest.fixture
def geo() -> Source:
    return Source.objects.create(slug="geo-test", name="GEO (test)")


def lake_history(member, curator, geo: Source, *, after_each=lambda step: None) -> None:
    """Uploads from two sources, two promotions and a deletion, calling ``after_each`` between."""
    first = upload_dataset(member, name="Heart")
    upload_dataset(member, name="Liver")
    upload_from(member, geo, name="GSE2034", files={"a.txt": b"a" * 300, "b/c.txt": b"c" * 7})
    after_each("uploads")
    processed = promote_dataset(first, member)
    after_each("promotion to processed")
    curated = promote_dataset(processed, curator)
    after_each("promotion to curated")
    services.dataset_delete(dataset=curated, user=curator)
    after_each("deletion")


def test_stats_equal_a_direct_count_through_uploads_promotions_and_a_delete(
    member, curator, geo
) -> None:
    steps = []

    def check(step: str) -> None:
        assert catalog_stats() == direct_stats(), step
        steps.append(step)

    lake_history(member, curator, geo, after_each=check)
    assert len(steps) == 4
    final = catalog_stats()
    assert final["datasets_per_layer"] == {"raw": 3, "processed": 1, "curated": 0, "archive": 0}
    upload_name = Source.objects.get(slug="upload").name
    assert final["bytes_per_source"] == [
        {"source": "geo-test", "name": "GEO (test)", "datasets": 1, "bytes": 307},
        {"source": "upload", "name": upload_name, "datasets": 3, "bytes": 3 * SIZE},
    ]


def test_a_source_whose_datasets_are_all_deleted_leaves_the_stats(member, curator, geo) -> None:
    raw = upload_from(member, geo, name="Only one")
    services.dataset_delete(dataset=promote_dataset(raw, member), user=curator)
    assert DatasetTally.objects.filter(layer=Layer.PROCESSED, datasets=0).exists()
    assert catalog_stats() == direct_stats()
    assert [total.slug for total in source_totals()] == ["geo-test"]  # the raw one stays


def test_reindex_rebuilds_the_tallies_the_services_kept(member, curator, geo) -> None:
    lake_history(member, curator, geo)
    incremental = tallies()
    assert incremental[0] and incremental[1]
    report = catalog_reindex()
    assert tallies() == incremental
    assert report["tallies"] == len(incremental[0])
    assert catalog_stats() == direct_stats()


def test_stats_read_the_tallies_not_the_datasets(member, django_assert_num_queries) -> None:
    upload_dataset(member)
    # Rows the tallies do not know of are not counted: nothing scans the datasets.
    Dataset.objects.filter(status=DatasetStatus.READY).update(total_size=1)
    with django_assert_num_queries(2) as captured:
        stats = catalog_stats()
    assert stats["bytes_per_source"][0]["bytes"] == SIZE
    assert all('FROM "catalog_dataset"' not in query["sql"] for query in captured.captured_queries)


def test_every_layer_is_listed_with_its_share(member) -> None:
    empty = layer_totals()
    assert [(t.layer, t.datasets, t.bytes, t.dataset_share) for t in empty] == [
        (layer, 0, 0, 0.0) for layer in Layer.values
    ]
    promote_dataset(upload_dataset(member), member)
    upload_dataset(member)
    totals = {total.layer: total for total in layer_totals()}
    assert list(totals) == Layer.values
    assert totals["raw"].datasets == 2 and totals["processed"].datasets == 1
    assert totals["raw"].dataset_share == pytest.approx(200 / 3)
    assert totals["processed"].byte_share == pytest.approx(100 / 3)
    assert totals["curated"].datasets == 0 and totals["curated"].byte_share == 0.0


def test_dashboard_figures_total_the_layers(member, geo) -> None:
    promote_dataset(upload_dataset(member), member)
    upload_from(member, geo)
    figures = dashboard_figures()
    assert (figures.datasets, figures.bytes) == (3, 2 * SIZE + 10)
    assert [(s.slug, s.datasets, s.bytes) for s in figures.sources] == [
        ("upload", 2, 2 * SIZE),
        ("geo-test", 1, 10),
    ]
    assert sum(row.datasets for row in figures.months) == 2  # uploads, not the promotion


def test_month_arithmetic_crosses_years() -> None:
    assert month_start_back(date(2025, 1, 1), 1) == date(2024, 12, 1)
    assert month_start_back(date(2025, 1, 1), 13) == date(2023, 12, 1)
    assert month_start_back(date(2025, 3, 1), 0) == date(2025, 3, 1)
    assert month_start_back(date(2025, 12, 1), 11) == date(2025, 1, 1)


def months_ago(count: int) -> date:
    return month_start_back(timezone.localdate().replace(day=1), count)


def test_uploads_per_month_lists_twelve_months_with_zeros(member, curator) -> None:
    now = upload_dataset(member, name="Now")
    earlier = upload_dataset(member, name="Earlier")
    too_old = upload_dataset(member, name="Too old")
    promote_dataset(now, member)  # made in processed: not an upload
    for dataset, back in ((earlier, 3), (too_old, 12)):
        when = timezone.make_aware(datetime.combine(months_ago(back) + timedelta(days=14), time()))
        Dataset.objects.filter(pk=dataset.pk).update(created_at=when)
    catalog_reindex(search=False, folders=False)  # the tallies follow created_at
    rows = uploads_per_month()
    assert [row.month for row in rows] == [months_ago(back) for back in range(11, -1, -1)]
    assert {row.month: row.datasets for row in rows if row.datasets} == {
        months_ago(3): 1,
        months_ago(0): 1,
    }
    assert sum(1 for row in rows if row.datasets == 0) == 10


def test_uploads_per_month_on_an_empty_lake_are_all_zero() -> None:
    rows = uploads_per_month(months=12, today=date(2025, 2, 17))
    assert [row.month for row in rows][:2] == [date(2024, 3, 1), date(2024, 4, 1)]
    assert rows[-1].month == date(2025, 2, 1)
    assert [row.datasets for row in rows] == [0] * 12


def test_recent_promotions_newest_first_in_one_query(
    member, curator, django_assert_num_queries
) -> None:
    done = promote_dataset(upload_dataset(member, name="Done"), member)
    for number in range(11):
        services.dataset_promote_request(
            dataset=upload_dataset(member, name=f"Q{number}"), user=member
        )
    with django_assert_num_queries(1):
        rows = [
            (p.source.name, p.source.layer, p.target and p.target.name, p.requested_by.email)
            for p in promotions_recent(limit=10)
        ]
    assert len(rows) == 10
    assert rows[0] == ("Q10", "raw", None, member.email)
    assert rows[-1][0] == "Q1"
    newest_first = list(Promotion.objects.order_by("-job__created_at").values_list("pk", flat=True))
    assert [p.pk for p in promotions_recent(limit=12)] == newest_first
    assert promotions_recent(limit=12)[11].target == done
