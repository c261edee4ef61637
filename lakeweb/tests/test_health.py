from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_health_reports_each_part_without_login(client, settings, tmp_path) -> None:
    from lakeweb.storage import layers_ensure

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
