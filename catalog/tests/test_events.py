"""The provenance record: its timeline, and its move from provenance to catalog.

The move (catalog ``0014``, provenance ``0003``) changes Django's state only;
the test below runs it back and forth on a database holding events, inside
the test's transaction, so nothing is left changed.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.apps.registry import Apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from catalog.models import Activity, ProvenanceEvent
from catalog.selectors import dataset_timeline
from catalog.tests.factories import promote_dataset, upload_dataset

pytestmark = pytest.mark.django_db

MOVE = "0014_provenance_event_moves_here"


def test_timeline_shows_collection_then_promotion(member) -> None:
    raw = upload_dataset(member)
    promote_dataset(raw, member)
    activities = [event.activity for event in dataset_timeline(dataset=raw)]
    assert activities == ["collection", "promotion"]


def test_admin_lists_events_under_catalog_read_only(client_for, member) -> None:
    raw = upload_dataset(member)
    admin = client_for("admin")
    page = admin.get(reverse("admin:catalog_provenanceevent_changelist"))
    assert page.status_code == 200
    assert raw.name in page.content.decode()
    assert admin.get(reverse("admin:catalog_provenanceevent_add")).status_code == 403
    assert admin.get("/admin/provenance/provenanceevent/").status_code == 404


def test_roles_hold_the_event_permissions_under_catalog() -> None:
    # The test database was migrated from nothing, so this is a new lab's database.
    def codenames(role: str) -> set[str]:
        perms = Group.objects.get(name=role).permissions.filter(
            content_type__model="provenanceevent"
        )
        return {f"{p.content_type.app_label}.{p.codename}" for p in perms}

    assert codenames("viewer") == {"catalog.view_provenanceevent"}
    assert codenames("member") == {"catalog.view_provenanceevent", "catalog.add_provenanceevent"}


def _before_the_move() -> list[tuple[str, str]]:
    """The catalog and provenance migrations the move follows (read from it)."""
    move = import_module(f"catalog.migrations.{MOVE}").Migration
    return [dep for dep in move.dependencies if dep[0] in ("catalog", "provenance")]


def _migrate(targets: list[tuple[str, str]] | None = None) -> Apps:
    """Migrate the test database to ``targets`` (default: the latest); that state's models."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    ContentType.objects.clear_cache()
    return executor.loader.project_state(targets).apps


def _events() -> dict[Any, tuple[str, Any, set[Any]]]:
    return {
        event.pk: (event.activity, event.dataset_id, {d.pk for d in event.used.all()})
        for event in ProvenanceEvent.objects.prefetch_related("used")
    }


def _permissions(content_type: ContentType) -> dict[str, int]:
    return dict(Permission.objects.filter(content_type=content_type).values_list("codename", "pk"))


def test_event_move_keeps_events_used_rows_content_type_and_permissions(member) -> None:
    raw = upload_dataset(member)
    processed = promote_dataset(raw, member)
    events = _events()
    content_type = ContentType.objects.get_for_model(ProvenanceEvent)
    perms = _permissions(content_type)

    old = _migrate(_before_the_move())

    old_event = old.get_model("provenance", "ProvenanceEvent")
    assert {e.pk for e in old_event.objects.all()} == set(events)  # the same tables
    old_types = old.get_model("contenttypes", "ContentType").objects
    assert old_types.get(app_label="provenance", model="provenanceevent").pk == content_type.pk
    assert not old_types.filter(app_label="catalog", model="provenanceevent").exists()
    note = old_event.objects.create(
        activity="note", actor_label="before the move", dataset_id=processed.pk
    )
    note.used.set([raw.pk])
    LogEntry.objects.create(  # the event's admin history, under the old content type
        user_id=member.pk,
        content_type_id=content_type.pk,
        object_id=str(note.pk),
        object_repr="a note",
        action_flag=ADDITION,
    )

    _migrate()

    assert _events() == {**events, note.pk: (Activity.NOTE, processed.pk, {raw.pk})}
    assert note.pk in {event.pk for event in dataset_timeline(dataset=raw)}
    moved = ContentType.objects.get(pk=content_type.pk)
    assert (moved.app_label, moved.model) == ("catalog", "provenanceevent")
    # Provenance keeps models of its own (pipeline runs), not this one.
    assert not ContentType.objects.filter(app_label="provenance", model="provenanceevent").exists()
    assert _permissions(moved) == perms
    assert LogEntry.objects.get(object_id=str(note.pk)).get_edited_object().pk == note.pk
    viewer = Group.objects.get(name="viewer").permissions
    assert viewer.filter(pk=perms["view_provenanceevent"]).exists()
