"""The jobs' numbers for ``/metrics``: counts by kind and status, durations, queues."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from lakeweb.metrics import lake_metrics

from .models import Job, JobStatus
from .registry import QUEUES

# Seconds: a promotion of a few files to a backup of a whole lake.
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


@lake_metrics
def jobs_collect() -> Iterator[Metric]:
    jobs = GaugeMetricFamily("lakeweb_jobs", "Jobs by kind and status.", labels=["kind", "status"])
    for row in Job.objects.order_by().values("kind", "status").annotate(n=Count("pk")):
        jobs.add_metric([row["kind"], row["status"]], row["n"])
    yield jobs
    queued = GaugeMetricFamily(
        "lakeweb_jobs_queued", "Jobs waiting for a worker, by queue.", labels=["queue"]
    )
    waiting = dict(
        Job.objects.filter(status=JobStatus.QUEUED)
        .order_by()
        .values_list("queue")
        .annotate(n=Count("pk"))
    )
    for queue in QUEUES:
        queued.add_metric([queue], waiting.get(queue, 0))
    yield queued
    yield _durations()
    broker = _broker_lengths()
    if broker is not None:
        yield broker


def _durations() -> Metric:
    """Finished jobs' run times, as a histogram per kind (rows kept, so it only grows)."""
    histogram = HistogramMetricFamily(
        "lakeweb_job_duration_seconds",
        "Run time of finished jobs (first start to end), by kind.",
        labels=["kind"],
    )
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets: dict[str, Any] = {
        f"le_{bound}": Count("pk", filter=Q(took__lte=datetime.timedelta(seconds=bound)))
        for bound in DURATION_BUCKETS
    }
    rows = (
        Job.objects.filter(status__in=JobStatus.finished(), started_at__isnull=False)
        .order_by()
        .annotate(took=took)
        .values("kind")
        .annotate(n=Count("pk"), total=Sum("took"), **buckets)
    )
    for row in rows:
        counts: dict[str, Any] = dict(row)  # the bucket keys are made above
        cumulative = [
            (str(float(bound)), float(counts[f"le_{bound}"])) for bound in DURATION_BUCKETS
        ]
        cumulative.append(("+Inf", float(counts["n"])))
        total: datetime.timedelta = counts["total"] or datetime.timedelta()
        histogram.add_metric([row["kind"]], cumulative, sum_value=total.total_seconds())
    return histogram


def _broker_lengths() -> Metric | None:
    """Messages in the broker's queues, when it is Redis (the production broker)."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        return None
    import redis

    lengths = GaugeMetricFamily(
        "lakeweb_broker_queue_length", "Messages waiting in the broker, by queue.", labels=["queue"]
    )
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        for queue in QUEUES:
            lengths.add_metric([queue], client.llen(queue))
    except redis.RedisError:
        return None  # the broker's own health is /health/'s to say
    return lengths
