"""Catalog figures for the dashboard and the API (SPEC §3 items 2 and 6)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Sum

from .models import Dataset, DatasetStatus, Layer


def catalog_stats() -> dict[str, Any]:
    """Ready datasets per layer (every layer listed) and their bytes per source."""
    ready = Dataset.objects.filter(status=DatasetStatus.READY).order_by()
    per_layer = dict.fromkeys(Layer.values, 0)
    for row in ready.values("layer").annotate(datasets=Count("id")):
        per_layer[row["layer"]] = row["datasets"]
    per_source = (
        ready.values("source__slug", "source__name")
        .annotate(datasets=Count("id"), bytes=Sum("total_size"))
        .order_by("source__slug")
    )
    return {
        "datasets_per_layer": per_layer,
        "bytes_per_source": [
            {
                "source": row["source__slug"],
                "name": row["source__name"],
                "datasets": row["datasets"],
                "bytes": row["bytes"] or 0,
            }
            for row in per_source
        ],
    }
