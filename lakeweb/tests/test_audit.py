"""The audit trail: changes made in the admin, sign-ins, token use and job requests,
each with who and from where; and the trail cannot be changed or deleted in the admin.

Requests come from 10.1.2.3 (the test client's REMOTE_ADDR), so each entry's
address is shown to be the request's and not a default.
"""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from catalog.models import MetadataField, MetadataForm, Source
from catalog.tests.test_metadata import _admin_creates_form, _admin_form_data
from conftest import PASSWORD, ROLES
from lakeweb.admin import RecordAdmin
from lakeweb.audit.registry import AUDITED
from lakeweb.jobs.models import Job
from lakeweb.tokens.services import api_token_create

pytestmark = pytest.mark.django_db

ADDRESS = "10.1.2.3"


@pytest.fixture
def admin_client(client_for):
    client = client_for("admin")
    client.defaults["REMOTE_ADDR"] = ADDRESS
    return client


def _entries(model, **filters) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_model(model).filter(**filters).order_by("pk"))


def _by_admin(entry: LogEntry, users) -> bool:
    return entry.actor == users["admin"] and entry.remote_addr == ADDRESS


# --- Changes made in the admin ---------------------------------------------------------


def test_changing_a_user_in_the_admin_records_who_what_and_where(admin_client, users) -> None:
    member = users["member"]
    url = reverse("admin:auth_user_change", args=[member.pk])
    data = _admin_form_data(admin_client, url)
    data["email"] = "renamed@lab.example"
    data["user_permissions"] = []  # the parser picks a multiple select's first option

    assert admin_client.post(url, data).status_code == 302

    updates = _entries(User, object_pk=str(member.pk), action=LogEntry.Action.UPDATE)
    (entry,) = [e for e in updates if "email" in e.changes]
    assert _by_admin(entry, users)
    assert entry.changes["email"] == ["member@lab.example", "renamed@lab.example"]


def test_a_membership_given_in_the_admin_is_recorded(admin_client, users) -> None:
    viewer = users["viewer"]
    url = reverse("admin:auth_user_change", args=[viewer.pk])
    data = _admin_form_data(admin_client, url)
    data["groups"] = [str(g.pk) for g in Group.objects.filter(name__in=["viewer", "curator"])]
    data["user_permissions"] = []

    assert admin_client.post(url, data).status_code == 302

    # The fixture's own membership (made without a request) is the first entry, by nobody.
    first, entry = [e for e in _entries(User, object_pk=str(viewer.pk)) if "groups" in e.changes]
    assert (first.actor, first.remote_addr) == (None, None)
    assert _by_admin(entry, users)
    assert entry.changes["groups"] == {"type": "m2m", "operation": "add", "objects": ["curator"]}


def test_a_password_change_is_recorded_without_the_hash(admin_client, users) -> None:
    member = users["member"]
    url = reverse("admin:auth_user_password_change", args=[member.pk])
    response = admin_client.post(
        url, {"password1": "another long passphrase", "password2": "another long passphrase"}
    )
    assert response.status_code == 302
    member.refresh_from_db()

    (entry,) = [
        e
        for e in _entries(User, object_pk=str(member.pk), action=LogEntry.Action.UPDATE)
        if "password" in e.changes
    ]
    assert _by_admin(entry, users)
    assert entry.changes["password"] == ["(hidden)", "(hidden)"]
    created = _entries(User, object_pk=str(member.pk), action=LogEntry.Action.CREATE)
    assert all(e.changes["password"][1] == "(hidden)" for e in created)


def test_a_group_added_in_the_admin_is_recorded(admin_client, users) -> None:
    url = reverse("admin:auth_group_add")
    data = _admin_form_data(admin_client, url)
    data["name"] = "imaging facility"

    assert admin_client.post(url, data).status_code == 302

    group = Group.objects.get(name="imaging facility")
    (entry,) = _entries(Group, object_pk=str(group.pk), action=LogEntry.Action.CREATE)
    assert _by_admin(entry, users)


def test_a_source_added_and_deleted_in_the_admin_is_recorded(admin_client, users) -> None:
    response = admin_client.post(
        reverse("admin:catalog_source_add"), {"name": "Confocal 2", "slug": "confocal-2", "url": ""}
    )
    assert response.status_code == 302
    source = Source.objects.get(slug="confocal-2")
    delete_url = reverse("admin:catalog_source_delete", args=[source.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302

    entries = _entries(Source, object_pk=str(source.pk))
    assert [e.action for e in entries] == [LogEntry.Action.CREATE, LogEntry.Action.DELETE]
    assert all(_by_admin(e, users) for e in entries)


def test_a_metadata_form_and_its_fields_built_in_the_admin_are_recorded(
    admin_client, users
) -> None:
    form = _admin_creates_form(admin_client)

    (entry,) = _entries(MetadataForm, object_pk=str(form.pk), action=LogEntry.Action.CREATE)
    assert _by_admin(entry, users)
    fields = _entries(MetadataField, action=LogEntry.Action.CREATE)
    assert {e.object_pk for e in fields} == {str(f.pk) for f in form.fields.all()}
    assert len(fields) == 2 and all(_by_admin(e, users) for e in fields)


def test_a_backup_schedule_changed_in_the_admin_is_recorded(admin_client, users) -> None:
    daily = CrontabSchedule.objects.create(minute="0", hour="2")
    task = PeriodicTask.objects.create(name="daily backup", task="backups.daily", crontab=daily)
    url = reverse("admin:django_celery_beat_periodictask_change", args=[task.pk])
    data = _admin_form_data(admin_client, url)
    data["enabled"] = False
    data.pop("enabled")  # an unticked box is not sent

    assert admin_client.post(url, data).status_code == 302

    (entry,) = _entries(PeriodicTask, object_pk=str(task.pk), action=LogEntry.Action.UPDATE)
    assert _by_admin(entry, users)
    assert entry.changes_dict["enabled"] == ["True", "False"]


def test_beat_recording_its_runs_adds_nothing_to_the_trail() -> None:
    daily = CrontabSchedule.objects.create(minute="0", hour="2")
    task = PeriodicTask.objects.create(name="daily backup", task="backups.daily", crontab=daily)
    before = LogEntry.objects.count()

    task.total_run_count += 1
    task.save()

    assert LogEntry.objects.count() == before


def test_a_forged_forwarded_for_header_is_not_taken_as_the_address(admin_client, users) -> None:
    response = admin_client.post(
        reverse("admin:catalog_source_add"),
        {"name": "GEO", "slug": "geo-2", "url": ""},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert response.status_code == 302

    (entry,) = _entries(Source, action=LogEntry.Action.CREATE)
    assert entry.remote_addr == ADDRESS


def test_every_model_edited_in_the_admin_is_audited_except_records_and_datasets() -> None:
    """A model added to the admin later must be added to the trail (or named here, with why)."""
    # Datasets have their own append-only record (provenance); the trail shows itself.
    not_followed = {"catalog.dataset", "auditlog.logentry"}
    editable = {
        model._meta.label_lower
        for model, model_admin in admin.site._registry.items()
        if not isinstance(model_admin, RecordAdmin)
    }

    assert editable - not_followed - set(AUDITED) == set()


# --- Sign-ins, token use, job requests ----------------------------------------------------


def test_a_sign_in_is_recorded_with_its_address(client, users) -> None:
    member = users["member"]
    response = client.post(
        reverse("account_login"),
        {"login": member.email, "password": PASSWORD},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 302

    (entry,) = _entries(User, additional_data__event="sign-in")
    assert (entry.actor, entry.remote_addr, entry.object_pk) == (member, ADDRESS, str(member.pk))


def test_a_failed_sign_in_is_recorded_with_the_name_typed(client, users) -> None:
    response = client.post(
        reverse("account_login"),
        {"login": "member@lab.example", "password": "wrong"},
        REMOTE_ADDR=ADDRESS,
    )
    assert response.status_code == 200

    (entry,) = _entries(User, additional_data__event="failed sign-in")
    assert (entry.actor, entry.remote_addr, entry.object_repr) == (
        None,
        ADDRESS,
        "member@lab.example",
    )
    assert "wrong" not in str(entry.changes) + str(entry.additional_data)


def test_a_huge_name_typed_at_sign_in_is_cut_short_in_the_trail(client, users) -> None:
    client.post(reverse("account_login"), {"login": "x" * 5000 + "@lab.example", "password": "x"})

    entries = _entries(User, additional_data__event="failed sign-in")
    assert all(len(e.object_repr) <= 200 for e in entries)


def test_a_wrong_second_factor_is_recorded(client, users) -> None:
    from lakeweb.tests.mfa_helpers import enrol

    member = users["member"]
    enrol(member)
    client.post(reverse("account_login"), {"login": member.email, "password": PASSWORD})

    client.post(reverse("mfa_authenticate"), {"code": "000000"}, REMOTE_ADDR=ADDRESS)

    (entry,) = _entries(User, additional_data__event="failed second factor")
    assert (entry.object_pk, entry.remote_addr) == (str(member.pk), ADDRESS)


def test_token_use_is_recorded_once_per_token_and_address_in_its_window(client, users) -> None:
    member = users["member"]
    token, key = api_token_create(user=member)
    headers = {"HTTP_AUTHORIZATION": f"Token {key}", "REMOTE_ADDR": ADDRESS}

    assert client.get(reverse("api:dataset_list"), **headers).status_code == 200
    assert client.get(reverse("api:dataset_list"), **headers).status_code == 200
    client.get(reverse("api:dataset_list"), **{**headers, "REMOTE_ADDR": "10.9.9.9"})

    entries = _entries(User, additional_data__event="API token used")
    assert [(e.actor, e.remote_addr) for e in entries] == [(member, ADDRESS), (member, "10.9.9.9")]
    assert key not in str([e.additional_data for e in entries])
    assert token.digest not in str([e.additional_data for e in entries])


def test_a_wrong_token_is_refused_and_records_no_use(client, users) -> None:
    response = client.get(reverse("api:dataset_list"), HTTP_AUTHORIZATION="Token " + "0" * 40)

    assert response.status_code == 401
    assert _entries(User, additional_data__event="API token used") == []


def test_a_job_request_is_recorded_with_who_asked_and_from_where(client_for, users) -> None:
    client = client_for("admin")
    client.defaults["REMOTE_ADDR"] = ADDRESS

    assert client.post(reverse("backups:backup_trigger")).status_code == 302

    job = Job.objects.get()
    (entry,) = _entries(Job, object_pk=str(job.pk))
    assert _by_admin(entry, users)
    assert entry.additional_data == {"event": "job requested", "kind": job.kind}


# --- The trail in the admin: read-only, never deleted --------------------------------------


@pytest.fixture
def entry(users) -> LogEntry:
    Source.objects.create(name="Instrument", slug="instrument-2")
    return LogEntry.objects.get_for_model(Source).get()


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_read_the_trail(client_for, entry, role: str) -> None:
    client = client_for(role)
    listing = client.get(reverse("admin:auditlog_logentry_changelist"))
    detail = client.get(reverse("admin:auditlog_logentry_change", args=[entry.pk]))

    if role == "admin":
        assert (listing.status_code, detail.status_code) == (200, 200)
        assert "Instrument" in listing.content.decode()
    else:  # everyone else is sent to a sign-in page
        assert listing.status_code == detail.status_code == 302
        assert "/login/" in listing.url and "/login/" in detail.url


@pytest.mark.parametrize("role", ROLES)
def test_no_role_can_change_or_delete_an_entry(client_for, entry, role: str) -> None:
    client = client_for(role)
    change = client.post(reverse("admin:auditlog_logentry_change", args=[entry.pk]), {})
    delete = client.post(
        reverse("admin:auditlog_logentry_delete", args=[entry.pk]), {"post": "yes"}
    )
    bulk = client.post(
        reverse("admin:auditlog_logentry_changelist"),
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )

    expected = 403 if role == "admin" else 302
    assert (change.status_code, delete.status_code) == (expected, expected)
    assert bulk.status_code in (200, 302)  # the admin has no action to run
    assert LogEntry.objects.filter(pk=entry.pk).exists()
    entry.refresh_from_db()
    assert entry.object_repr == "Instrument"


@pytest.mark.parametrize("role", ROLES)
def test_no_role_can_delete_a_job_in_the_admin(client_for, users, role: str) -> None:
    job = Job.objects.create(kind="backup", queue="long")
    client = client_for(role)

    response = client.post(reverse("admin:lakeweb_job_delete", args=[job.pk]), {"post": "yes"})

    assert response.status_code == (403 if role == "admin" else 302)
    assert Job.objects.filter(pk=job.pk).exists()
