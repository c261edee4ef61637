"""Reads of the provenance record: a dataset's timeline."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ..models import Dataset, ProvenanceEvent


def dataset_timeline(*, dataset: Dataset) -> QuerySet[ProvenanceEvent]:
    """Every event that produced, acted on or used this dataset, oldest first."""
    return (
        ProvenanceEvent.objects.filter(Q(dataset=dataset) | Q(used=dataset))
        .select_related("dataset")
        .prefetch_related("used")
        .distinct()
        .order_by("occurred_at")
    )
