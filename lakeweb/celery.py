"""Celery application: every job (promotions, pipelines, backups…) runs on workers."""

from __future__ import annotations

import os

import prometheus_client
from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lakeweb.settings")

app = Celery("lakeweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["lakeweb.jobs"])


@worker_ready.connect
def _metrics_serve(**_kwargs: object) -> None:
    """The worker's own process numbers (CPU, memory, open files) for Prometheus, when asked.

    The jobs' numbers are the database's, served by the web's /metrics.
    """
    port = os.environ.get("LAKEWEB_WORKER_METRICS_PORT")
    if port:
        prometheus_client.start_http_server(int(port))
