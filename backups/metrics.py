"""The backups' numbers for ``/metrics``: when the last backup succeeded."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Max
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from lakeweb.jobs.models import JobStatus
from lakeweb.metrics import lake_metrics

from .models import BackupJob


@lake_metrics
def backups_collect() -> Iterator[Metric]:
    last = BackupJob.objects.filter(job__status=JobStatus.SUCCEEDED).aggregate(
        at=Max("job__finished_at")
    )["at"]
    if last is None:
        return  # no backup yet: absent, so an alert on "absent or old" fires
    yield GaugeMetricFamily(
        "lakeweb_last_backup_success_timestamp_seconds",
        "When the last successful backup ended (Unix time).",
        value=last.timestamp(),
    )
    yield GaugeMetricFamily(
        "lakeweb_last_backup_age_seconds",
        "Seconds since the last successful backup ended.",
        value=(timezone.now() - last).total_seconds(),
    )
