"""Permissions read in one query give the same answers as Django's ModelBackend."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lakeweb.permissions import OneQueryPermissions

pytestmark = pytest.mark.django_db


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)  # no permissions kept on it yet


def test_same_permissions_as_model_backend_in_one_query(users) -> None:
    member = users["member"]
    member.user_permissions.add(Permission.objects.get(codename="view_backupjob"))
    for role, user in users.items():
        if user is None:
            continue
        expected = ModelBackend().get_all_permissions(fresh(user))
        user = fresh(user)
        with CaptureQueriesContext(connection) as captured:
            got = OneQueryPermissions().get_all_permissions(user)
            again = OneQueryPermissions().get_all_permissions(user)  # kept for the request
        assert got == again == expected, role
        assert len(captured) == 1, role
    assert "backups.view_backupjob" in OneQueryPermissions().get_all_permissions(fresh(member))


def test_a_role_taken_away_counts_from_the_next_request(users) -> None:
    member = users["member"]
    assert fresh(member).has_perm("catalog.add_dataset")
    member.groups.clear()
    assert not fresh(member).has_perm("catalog.add_dataset")


def test_inactive_users_have_no_permissions(users) -> None:
    curator = users["curator"]
    curator.is_active = False
    curator.save()
    assert OneQueryPermissions().get_all_permissions(fresh(curator)) == set()
    assert not fresh(curator).has_perm("catalog.view_dataset")


def test_every_backend_asks_nothing_more(users) -> None:
    viewer = fresh(users["viewer"])
    with CaptureQueriesContext(connection) as captured:
        assert viewer.has_perm("catalog.view_dataset")
        assert not viewer.has_perm("catalog.add_dataset")  # asked of every backend in turn
        assert not viewer.has_perm("backups.add_backupjob")
    assert len(captured) == 1
