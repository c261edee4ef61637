"""``/metrics``: numbers a monitoring system scrapes, in Prometheus's text format (SPEC §4).

Requests and database queries are counted by django-prometheus (its
middleware and database backends). The lake's own numbers (datasets and
bytes per layer, uploads, jobs, queues, the last backup) are read from the
database at each scrape by collectors the apps register with
``lake_metrics``, so every web process answers the same.

The page is for a monitoring system, not for people: it answers a request
with the bearer token ``LAKEWEB_METRICS_TOKEN``, or from an address in
``LAKEWEB_METRICS_ALLOW`` (loopback by default); others get 401 (no
credential) or 403 (a wrong one).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator

import prometheus_client
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import multiprocess
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

Collect = Callable[[], Iterable[Metric]]
_COLLECTORS: list[Collect] = []


def lake_metrics(collect: Collect) -> Collect:
    """Register ``collect`` (it yields metric families) for every scrape of ``/metrics``."""
    _COLLECTORS.append(collect)
    return collect


class _Lake(Collector):
    def collect(self) -> Iterator[Metric]:
        for collect in _COLLECTORS:
            yield from collect()


def _process_registry() -> prometheus_client.CollectorRegistry:
    """Requests and queries: of every web process when they share a folder, else of this one."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return prometheus_client.REGISTRY
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def _allowed_address(request: HttpRequest) -> bool:
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in settings.LAKEWEB_METRICS_ALLOW)


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token = settings.LAKEWEB_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return None
    if not sent and _allowed_address(request):
        return None
    if sent:
        return JsonResponse({"detail": "This metrics token is not valid."}, status=403)
    response = JsonResponse(
        {"detail": "Metrics need the bearer token (LAKEWEB_METRICS_TOKEN)."}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    lake = prometheus_client.CollectorRegistry()
    lake.register(_Lake())
    body = prometheus_client.generate_latest(
        _process_registry()
    ) + prometheus_client.generate_latest(lake)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
