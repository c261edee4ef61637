"""The catalog's numbers for ``/metrics``: datasets and bytes per layer, uploads going on."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Sum
from prometheus_client.core import GaugeMetricFamily, Metric

from lakeweb.metrics import lake_metrics

from .models import Dataset, DatasetStatus, DatasetTally, Layer


@lake_metrics
def catalog_collect() -> Iterator[Metric]:
    datasets = GaugeMetricFamily("lakeweb_datasets", "Ready datasets, by layer.", labels=["layer"])
    stored = GaugeMetricFamily(
        "lakeweb_dataset_bytes", "Bytes of ready datasets, by layer.", labels=["layer"]
    )
    # The tallies kept at sealing: a few hundred rows, not a million datasets.
    rows = {
        row["layer"]: row
        for row in DatasetTally.objects.order_by()
        .values("layer")
        .annotate(n=Sum("datasets"), size=Sum("bytes"))
    }
    for layer in Layer.values:
        datasets.add_metric([layer], rows.get(layer, {}).get("n") or 0)
        stored.add_metric([layer], rows.get(layer, {}).get("size") or 0)
    yield datasets
    yield stored
    uploading = Dataset.objects.filter(status=DatasetStatus.UPLOADING).count()
    yield GaugeMetricFamily(
        "lakeweb_uploads_in_progress", "Datasets being uploaded (not yet sealed).", value=uploading
    )
