from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from conftest import _free_port, _wait_for_port, require_services, s3_settings
from lakeweb import views
from lakeweb.storage import StorageError, layer_store, layers_ensure

pytestmark = pytest.mark.django_db


def test_health_reports_each_part_without_login(client, settings, tmp_path) -> None:
    layers_ensure()
    response = client.get(reverse("health"))
    body = response.json()
    assert set(body) == {"status", "database", "broker", "storage"}
    assert body["database"] == "ok" and body["storage"] == "ok"
    assert response.status_code == (200 if body["broker"] == "ok" else 503)


def test_health_is_503_when_storage_is_gone(client, settings, tmp_path) -> None:
    settings.LAKEWEB_STORAGE_DIR = tmp_path / "never-created"
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["storage"].startswith("error")


@pytest.fixture
def stallable_s3(settings, tmp_path) -> Iterator[subprocess.Popen]:
    """A moto server of this test's own holding the layer buckets; SIGSTOP stalls it."""
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if server is None:
        require_services("no moto_server next to this Python (pip install moto[server])")
    port = _free_port()
    process = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port)
        for name, value in s3_settings(f"http://127.0.0.1:{port}").items():
            setattr(settings, name, value)
        layers_ensure()
        yield process
    finally:
        process.send_signal(signal.SIGCONT)  # a stopped process cannot exit
        process.terminate()
        process.wait(timeout=10)


def timed_health(client):
    started = time.monotonic()
    response = client.get(reverse("health"))
    return response, time.monotonic() - started


def test_health_names_a_stalled_store_within_seconds_and_recovers(client, stallable_s3) -> None:
    assert client.get(reverse("health")).json()["storage"] == "ok"

    stallable_s3.send_signal(signal.SIGSTOP)
    response, seconds = timed_health(client)
    body = response.json()
    assert response.status_code == 503 and seconds < 5, seconds
    assert body["status"] == "error" and body["database"] == "ok"
    assert body["storage"].startswith("error")

    stallable_s3.send_signal(signal.SIGCONT)
    response, _ = timed_health(client)
    assert response.json()["storage"] == "ok"


def test_health_reports_a_check_still_running_at_the_deadline_as_timed_out(
    client, stallable_s3, monkeypatch
) -> None:
    assert client.get(reverse("health")).json()["storage"] == "ok"
    monkeypatch.setattr(views, "HEALTH_DEADLINE_SECONDS", 1)
    stallable_s3.send_signal(signal.SIGSTOP)
    response, seconds = timed_health(client)
    # Answered before the storage check's own 2 s read timeout could end it.
    assert response.status_code == 503 and seconds < 1.9, seconds
    assert response.json()["storage"] == "error: timed out"


def test_a_store_call_on_a_stalled_endpoint_fails_before_gunicorn_gives_up(stallable_s3) -> None:
    store = layer_store("raw")
    stallable_s3.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(StorageError):
        store.open("anything.csv")
    assert time.monotonic() - started < 25  # gunicorn kills a worker after 30 s
