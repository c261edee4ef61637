"""A dataset's fixity as its page shows it: when its files were last verified, open failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..models import Dataset, FixityFailure

FAILURES_SHOWN = 20


@dataclass(frozen=True)
class DatasetFixity:
    files_verified_at: datetime | None
    failures: list[FixityFailure] = field(default_factory=list)


def dataset_fixity(*, dataset: Dataset) -> DatasetFixity:
    """Since when every file was verified, and open failures (one query, none on its files)."""
    failures = FixityFailure.objects.filter(dataset=dataset, resolved_at__isnull=True)
    return DatasetFixity(
        files_verified_at=dataset.files_verified_at,
        failures=list(failures.order_by("-found_at")[:FAILURES_SHOWN]),
    )
