"""Records of what happened are shown in admin and never added, changed or deleted there."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from backups.models import BackupJob
from catalog.models import Promotion, ProvenanceEvent
from lakeweb.admin import RecordAdmin
from lakeweb.jobs.models import Job

RECORDS = [Job, Promotion, BackupJob, ProvenanceEvent]


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m.__name__)
def test_a_record_is_listed_for_admins_and_cannot_be_added(client_for, model) -> None:
    meta = model._meta
    client = client_for("admin")
    listed = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    added = client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
    assert (listed.status_code, added.status_code) == (200, 403)


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m.__name__)
def test_a_record_can_be_neither_changed_nor_deleted_and_shows_every_column(users, model) -> None:
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = users["admin"]
    assert isinstance(model_admin, RecordAdmin)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    columns = {f.name for f in model._meta.fields}
    assert columns <= set(model_admin.get_readonly_fields(request))
