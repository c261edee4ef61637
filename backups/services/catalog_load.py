"""Catalog rows back from a snapshot's ``catalog.json`` (written by :mod:`.cut`).

Rows are found or made by natural key (an existing source, tag, group, user
or form version is kept as it is), so a restore into a live lake and one into
an empty instance read the same file. Restored users get an unusable
password: they set one through "Forgot your password?" (allauth's reset).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.dateparse import parse_datetime

from catalog.models import (
    DataFile,
    Dataset,
    DatasetStatus,
    MetadataField,
    MetadataForm,
    MetadataFormVersion,
    Promotion,
    ProvenanceEvent,
    Source,
    Tag,
)
from catalog.services.indexing import dataset_index
from lakeweb.jobs.models import Job

from .cut import DATASET_FIELDS, EVENT_FIELDS, FIELD_FIELDS, FILE_FIELDS, USER_FIELDS


def _when(text: str | None) -> Any:
    return parse_datetime(text) if text else None


@transaction.atomic
def references_load(catalog: dict[str, Any]) -> None:
    """Groups, users, sources, tags and forms: found by natural key, or made."""
    for name in catalog["groups"]:
        Group.objects.get_or_create(name=name)
    for row in catalog["users"]:
        _user_load(row)
    for row in catalog["sources"]:
        Source.objects.get_or_create(slug=row["slug"], defaults=row)
    for name in catalog["tags"]:
        Tag.objects.get_or_create(name=name)
    for row in catalog["forms"]:
        _form_load(row)


def _user_load(row: dict[str, Any]) -> None:
    if User.objects.filter(username=row["username"]).exists():
        return
    values = {name: row[name] for name in USER_FIELDS}
    values["date_joined"] = _when(values["date_joined"])
    values["last_login"] = _when(values["last_login"])
    user = User(**values)
    user.set_unusable_password()
    user.save()
    user.groups.set(Group.objects.filter(name__in=row["groups"]))


def _form_load(row: dict[str, Any]) -> None:
    form, made = MetadataForm.objects.get_or_create(
        name=row["name"], defaults={"description": row["description"], "retired": row["retired"]}
    )
    if made:
        MetadataForm.objects.filter(pk=form.pk).update(created_at=_when(row["created_at"]))
        MetadataField.objects.bulk_create(
            MetadataField(form=form, **{n: f[n] for n in FIELD_FIELDS}) for f in row["fields"]
        )
    for version in row["versions"]:
        made_version, made = MetadataFormVersion.objects.get_or_create(
            form=form, number=version["number"], defaults={"fields": version["fields"]}
        )
        if made:
            MetadataFormVersion.objects.filter(pk=made_version.pk).update(
                created_at=_when(version["created_at"])
            )


def dataset_load(row: dict[str, Any], files: list[dict[str, Any]]) -> Dataset:
    """The dataset's row (a tombstone of it is brought back), its files, sealed and indexed.

    Called in the transaction that also records its events: all visible at once.
    """
    values = {name: row[name] for name in DATASET_FIELDS if name != "id"}
    values |= {
        "created_at": _when(row["created_at"]),
        "sealed_at": _when(row["sealed_at"]),
        "source": Source.objects.get(slug=row["source"]),
        "owner": User.objects.get(username=row["owner"]),
        "form_version": _form_version(row["form"]),
    }
    dataset, _made = Dataset.objects.update_or_create(id=uuid.UUID(row["id"]), defaults=values)
    # auto_now_add set the time of this restore; the dataset keeps its own.
    Dataset.objects.filter(pk=dataset.pk).update(created_at=values["created_at"])
    dataset.refresh_from_db()
    dataset.tags.set(Tag.objects.filter(name__in=row["tags"]))
    DataFile.objects.filter(dataset=dataset).delete()
    DataFile.objects.bulk_create(
        DataFile(dataset=dataset, version_id=f.get("version_id"), **{n: f[n] for n in FILE_FIELDS})
        for f in files
    )
    if dataset.status == DatasetStatus.READY:
        dataset_index(dataset=dataset, files=[(f["path"], f["size"]) for f in files])
    return dataset


def _form_version(key: list[Any] | None) -> MetadataFormVersion | None:
    if key is None:
        return None
    return MetadataFormVersion.objects.get(form__name=key[0], number=key[1])


def events_load(rows: Iterable[dict[str, Any]]) -> int:
    """Provenance events not in the catalog yet (by id), with their actors; their count."""
    rows = list(rows)
    known = set(
        ProvenanceEvent.objects.filter(id__in=[r["id"] for r in rows]).values_list("id", flat=True)
    )
    made = 0
    for row in rows:
        if uuid.UUID(row["id"]) in known:
            continue
        values = {name: row[name] for name in EVENT_FIELDS}
        event = ProvenanceEvent.objects.create(
            **values,
            dataset_id=row["dataset"],
            actor=User.objects.filter(username=row["actor"]).first() if row["actor"] else None,
        )
        ProvenanceEvent.objects.filter(pk=event.pk).update(occurred_at=_when(row["occurred_at"]))
        made += 1
    return made


def event_links_load(rows: Iterable[dict[str, Any]]) -> None:
    """The datasets each event used, where both are in the catalog now."""
    for row in rows:
        if not row["used"]:
            continue
        event = ProvenanceEvent.objects.filter(pk=row["id"]).first()
        if event is not None:
            event.used.add(*Dataset.objects.filter(pk__in=row["used"]))


def promotions_load(rows: Iterable[dict[str, Any]]) -> int:
    """Promotions (with their finished jobs) whose source and target are both back."""
    made = 0
    for row in rows:
        present = Dataset.objects.filter(pk__in=[row["source"], row["target"]]).count() == 2
        if not present or Promotion.objects.filter(pk=row["id"]).exists():
            continue
        with transaction.atomic():
            Promotion.objects.create(
                id=row["id"],
                job=_job_load(row["job"]),
                source_id=row["source"],
                target_id=row["target"],
                target_layer=row["target_layer"],
            )
        made += 1
    return made


def _job_load(row: dict[str, Any]) -> Job:
    job = Job.objects.filter(pk=row["id"]).first()
    if job is not None:
        return job
    job = Job.objects.create(
        id=row["id"],
        kind=row["kind"],
        queue=row["queue"],
        status=row["status"],
        parameters=row["parameters"],
        result=row["result"],
        unique_key=row["unique_key"],
        finished_at=_when(row["finished_at"]),
        requested_by=User.objects.filter(username=row["requested_by"]).first(),
    )
    Job.objects.filter(pk=job.pk).update(created_at=_when(row["created_at"]))
    return job
