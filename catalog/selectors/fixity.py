"""A dataset's fixity as its page shows it: when its files were last verified, open failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Min, Q

from ..models import Dataset, FixityFailure

FAILURES_SHOWN = 20


@dataclass(frozen=True)
class DatasetFixity:
    files: int
    verified: int
    oldest_verified_at: datetime | None
    newest_verified_at: datetime | None
    failures: list[FixityFailure] = field(default_factory=list)

    @property
    def never_verified(self) -> int:
        return self.files - self.verified


def dataset_fixity(*, dataset: Dataset) -> DatasetFixity:
    """Verification times of the dataset's files and its open failures (two queries)."""
    found = dataset.files.aggregate(
        files=Count("id"),
        verified=Count("id", filter=Q(verified_at__isnull=False)),
        oldest=Min("verified_at"),
        newest=Max("verified_at"),
    )
    failures = (
        FixityFailure.objects.filter(dataset=dataset, resolved_at__isnull=True)
        .select_related("datafile")
        .order_by("-found_at")[:FAILURES_SHOWN]
    )
    return DatasetFixity(
        files=found["files"],
        verified=found["verified"],
        oldest_verified_at=found["oldest"],
        newest_verified_at=found["newest"],
        failures=list(failures),
    )
