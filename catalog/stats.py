"""Catalog figures for the dashboard, the layers page and the stats API (SPEC §3 items 2 and 6).

Everything here reads the tallies (``DatasetTally``), which the services keep
at sealing and deletion, never the datasets themselves: each figure is one
query over a few hundred rows, whether the lake holds ten datasets or a
million. Rows a deletion brought down to zero stay in the tally, so sums are
filtered on their value, not on the rows' existence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import QuerySet, Sum
from django.utils import timezone

from .models import DatasetTally, Layer, Promotion


@dataclass(frozen=True)
class LayerTotal:
    """Ready datasets in one layer, with their share of the whole lake in percent."""

    layer: str
    datasets: int
    bytes: int
    dataset_share: float
    byte_share: float


@dataclass(frozen=True)
class SourceTotal:
    """Ready datasets from one source, all layers together."""

    slug: str
    name: str
    datasets: int
    bytes: int


@dataclass(frozen=True)
class MonthCount:
    """Datasets uploaded (made in raw) during the month starting on ``month``."""

    month: date
    datasets: int


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def layer_totals() -> list[LayerTotal]:
    """Ready datasets and bytes per layer, every layer listed in lake order, even at 0."""
    sums = {
        row["layer"]: (row["n"] or 0, row["size"] or 0)
        for row in DatasetTally.objects.order_by()
        .values("layer")
        .annotate(n=Sum("datasets"), size=Sum("bytes"))
    }
    all_datasets = sum(n for n, _size in sums.values())
    all_bytes = sum(size for _n, size in sums.values())
    totals = []
    for layer in Layer.values:
        datasets, size = sums.get(layer, (0, 0))
        totals.append(
            LayerTotal(
                layer=layer,
                datasets=datasets,
                bytes=size,
                dataset_share=_percent(datasets, all_datasets),
                byte_share=_percent(size, all_bytes),
            )
        )
    return totals


def source_totals() -> list[SourceTotal]:
    """Ready datasets and bytes per source that has any, most bytes first."""
    rows = (
        DatasetTally.objects.order_by()
        .values("source__slug", "source__name")
        .annotate(n=Sum("datasets"), size=Sum("bytes"))
        .filter(n__gt=0)
        .order_by("-size", "source__name", "source__slug")
    )
    return [
        SourceTotal(
            slug=row["source__slug"],
            name=row["source__name"],
            datasets=row["n"],
            bytes=row["size"] or 0,
        )
        for row in rows
    ]


def month_start_back(month: date, count: int) -> date:
    """The first day of the month ``count`` months before ``month``."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def uploads_per_month(*, months: int = 12, today: date | None = None) -> list[MonthCount]:
    """Datasets uploaded in each of the last ``months`` months, oldest first, this one last.

    Uploads are the raw layer's tally (every dataset enters the lake in raw;
    promotions and derivations make datasets in later layers). Months with no
    upload are listed with 0. Months are in the site's time zone, as the
    tallies are.
    """
    this_month = (today or timezone.localdate()).replace(day=1)
    first = month_start_back(this_month, months - 1)
    counts = {
        row["month"]: row["n"] or 0
        for row in DatasetTally.objects.filter(layer=Layer.RAW, month__gte=first)
        .order_by()
        .values("month")
        .annotate(n=Sum("datasets"))
    }
    return [
        MonthCount(month=month, datasets=counts.get(month, 0))
        for month in (month_start_back(this_month, back) for back in range(months - 1, -1, -1))
    ]


# What the promotions list shows; the datasets' metadata and search documents
# can be large and are not read.
PROMOTION_FIELDS = (
    "target_layer",
    "job__status",
    "job__progress_done",
    "job__created_at",
    "job__finished_at",
    "source__name",
    "source__layer",
    "source__status",
    "target__name",
    "target__layer",
    "target__status",
    "job__requested_by__username",
    "job__requested_by__email",
)


def promotions_recent(*, limit: int = 10) -> QuerySet[Promotion]:
    """The last ``limit`` promotions requested, newest first, with both datasets and requester.

    One query however many promotions there are.
    """
    return (
        Promotion.objects.filter(job__kind="promotion")
        .select_related("source", "target", "job__requested_by")
        .only(*PROMOTION_FIELDS)
        .order_by("-job__created_at")[:limit]
    )


@dataclass(frozen=True)
class Dashboard:
    """What the dashboard shows: lake totals and the three series it charts."""

    datasets: int
    bytes: int
    layers: list[LayerTotal]
    sources: list[SourceTotal]
    months: list[MonthCount]


def dashboard_figures(*, months: int = 12) -> Dashboard:
    """Totals, datasets per layer, storage per source and uploads per month: three queries."""
    layers = layer_totals()
    return Dashboard(
        datasets=sum(total.datasets for total in layers),
        bytes=sum(total.bytes for total in layers),
        layers=layers,
        sources=source_totals(),
        months=uploads_per_month(months=months),
    )


def catalog_stats() -> dict[str, Any]:
    """Ready datasets per layer (every layer listed) and their bytes per source.

    The shape of ``/api/stats/``; sources sorted by slug.
    """
    return {
        "datasets_per_layer": {total.layer: total.datasets for total in layer_totals()},
        "bytes_per_source": [
            {
                "source": total.slug,
                "name": total.name,
                "datasets": total.datasets,
                "bytes": total.bytes,
            }
            for total in sorted(source_totals(), key=lambda total: total.slug)
        ],
    }
