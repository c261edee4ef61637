from __future__ import annotations

import pytest
from django.urls import reverse

from backups.models import BackupJob
from backups.services import backup_request
from conftest import ROLES

pytestmark = pytest.mark.django_db

ALLOWED = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 200, "admin": 200}


@pytest.mark.parametrize("role", ROLES)
def test_backup_list_permissions(client_for, role: str) -> None:
    backup = backup_request(kind="daily", user=None)
    BackupJob.objects.filter(pk=backup.pk).update(prefix="backups/daily/2026-11-20/")
    response = client_for(role).get(reverse("backups:backup_list"))
    assert response.status_code == ALLOWED[role]
    if response.status_code == 200:
        assert "backups/daily/2026-11-20/" in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_backup_trigger_permissions(client_for, role: str) -> None:
    response = client_for(role).post(reverse("backups:backup_trigger"))
    allowed = ALLOWED[role] == 200
    assert response.status_code == (302 if allowed or role == "anonymous" else 403)
    assert BackupJob.objects.filter(kind="manual").exists() == allowed


def test_backup_page_shows_the_schedules(client_for) -> None:
    page = client_for("curator").get(reverse("backups:backup_list")).content.decode()
    assert "lakeweb daily backup" in page and "At 02:00 AM" in page
    assert "lakeweb weekly backup" in page and "At 03:00 AM, only on Sunday" in page


def test_trigger_needs_post(client_for) -> None:
    assert client_for("curator").get(reverse("backups:backup_trigger")).status_code == 405
