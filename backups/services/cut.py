"""The consistent cut: the catalog and the file list of one moment, read in one transaction.

Only datasets sealed at or before the cut (and tombstones, which provenance
points at) are in it; a dataset sealed a second later waits for the next
snapshot. On PostgreSQL the reads share one REPEATABLE READ snapshot, so rows
written while the cut is read are not seen either.

``catalog.json`` (format ``lakeweb-catalog/1``) names rows by natural keys
(source slug, tag and group names, username, form name and version number) so
that it loads into a database whose automatic ids differ. It holds no secret:
users come without passwords; tokens, sessions and MFA secrets are not read.
"""

from __future__ import annotations

import datetime
import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.models import Group, User
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import (
    DataFile,
    Dataset,
    DatasetStatus,
    MetadataForm,
    Promotion,
    ProvenanceEvent,
    Source,
    Tag,
)

from .cold import dataset_cold_now

CATALOG_FORMAT = "lakeweb-catalog/1"
SPOOL_BYTES = 16 * 1024 * 1024
USER_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "date_joined",
    "last_login",
)
FIELD_FIELDS = (
    "order",
    "name",
    "prompt",
    "help_text",
    "field_type",
    "required",
    "choices",
    "default",
    "min_value",
    "max_value",
    "pattern",
)
DATASET_FIELDS = (
    "id",
    "name",
    "description",
    "external_id",
    "layer",
    "metadata",
    "file_count",
    "total_size",
    "manifest_digest",
    "status",
    "storage_prefix",
    "created_at",
    "sealed_at",
)
FILE_FIELDS = ("path", "size", "sha256", "content_type", "storage_key", "folder")
JOB_FIELDS = ("id", "kind", "queue", "status", "parameters", "result", "unique_key", "created_at")
EVENT_FIELDS = (
    "id",
    "activity",
    "actor_label",
    "occurred_at",
    "source_layer",
    "target_layer",
    "parameters",
    "note",
)


@dataclass
class Cut:
    """What the cut read: its time, the catalog (JSON bytes) and the files (JSON lines)."""

    at: Any
    catalog: IO[bytes]
    files: IO[bytes]
    # (id, layer, status) of every dataset in the cut, in the order of its files.
    datasets: list[tuple[str, str, str]] = field(default_factory=list)
    file_count: int = 0

    def file_entries(self) -> Iterator[dict[str, Any]]:
        """Every file of the cut, dataset by dataset (one line each, read back from the spool)."""
        self.files.seek(0)
        for line in self.files:
            yield json.loads(line)

    def close(self) -> None:
        self.catalog.close()
        self.files.close()


class _Encoder(DjangoJSONEncoder):
    """Django's, but times keep their microseconds (it cuts them to milliseconds)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        return super().default(o)


def _dump(value: Any) -> bytes:
    return json.dumps(value, cls=_Encoder, ensure_ascii=False).encode()


def cut_take() -> Cut:
    """Read the catalog and the file list at one moment (see the module's docstring)."""
    catalog = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - Cut.close
    files = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - Cut.close
    # Inside a transaction that has read already (tests) the isolation level
    # cannot change; the sealed_at filter still holds the cut there.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cut = Cut(at=timezone.now(), catalog=catalog, files=files)
        _write_catalog(cut)
    return cut


def _datasets_in(at: Any) -> Any:
    ready = Q(status=DatasetStatus.READY, sealed_at__lte=at)
    gone = Q(status=DatasetStatus.DELETED, created_at__lte=at)
    return Dataset.objects.filter(ready | gone).order_by("id")


def _write_catalog(cut: Cut) -> None:
    out = cut.catalog
    out.write(b'{"format": ' + _dump(CATALOG_FORMAT) + b', "cut": ' + _dump(cut.at))
    sections: list[tuple[str, Iterable[Any]]] = [
        ("groups", Group.objects.order_by("name").values_list("name", flat=True)),
        ("users", _users()),
        ("sources", Source.objects.order_by("slug").values("slug", "name", "description", "url")),
        ("tags", Tag.objects.order_by("name").values_list("name", flat=True)),
        ("forms", _forms()),
        ("datasets", _datasets(cut)),
        ("promotions", _promotions(cut.at)),
        ("events", _events(cut.at)),
    ]
    for name, rows in sections:
        out.write(b', "' + name.encode() + b'": [')
        for n, row in enumerate(rows):
            out.write((b", " if n else b"") + _dump(row))
        out.write(b"]")
    out.write(b"}\n")


def _users() -> Iterator[dict[str, Any]]:
    # No password, ever: a restored user sets one through the reset link.
    for user in User.objects.order_by("username").prefetch_related("groups"):
        row = {name: getattr(user, name) for name in USER_FIELDS}
        row["groups"] = sorted(group.name for group in user.groups.all())
        yield row


def _forms() -> Iterator[dict[str, Any]]:
    for form in MetadataForm.objects.order_by("name").prefetch_related("fields", "versions"):
        yield {
            "name": form.name,
            "description": form.description,
            "retired": form.retired,
            "created_at": form.created_at,
            "fields": [{n: getattr(f, n) for n in FIELD_FIELDS} for f in form.fields.all()],
            "versions": [
                {"number": v.number, "fields": v.fields, "created_at": v.created_at}
                for v in form.versions.all()
            ],
        }


def _datasets(cut: Cut) -> Iterator[dict[str, Any]]:
    rows = _datasets_in(cut.at).select_related("source", "owner", "form_version__form")
    for dataset in rows.prefetch_related("tags").iterator(chunk_size=200):
        row = {name: getattr(dataset, name) for name in DATASET_FIELDS}
        version = dataset.form_version
        row |= {
            "source": dataset.source.slug,
            "owner": dataset.owner.username,
            "tags": sorted(tag.name for tag in dataset.tags.all()),
            "form": [version.form.name, version.number] if version else None,
        }
        cut.datasets.append((str(dataset.id), dataset.layer, dataset.status))
        row["files"] = _spool_files(cut, dataset)
        yield row


def _spool_files(cut: Cut, dataset: Dataset) -> list[dict[str, Any]]:
    """The dataset's files, for its catalog row and, one line each, for the blob copy."""
    rows = DataFile.objects.filter(dataset=dataset).order_by("path")
    files = list(rows.values(*FILE_FIELDS, "version_id"))
    cold = bool(dataset.storage_class) and dataset_cold_now(dataset=dataset)
    for row in files:
        # The copy reads the sealed version; the catalog does not keep it (a
        # restored object is a new version of another bucket).
        line = row | {"dataset": str(dataset.id), "layer": dataset.layer, "cold": cold}
        cut.files.write(_dump(line) + b"\n")
        del row["version_id"]
    cut.file_count += len(files)
    return files


def _promotions(at: Any) -> Iterator[dict[str, Any]]:
    done = Promotion.objects.filter(target__in=_datasets_in(at))
    for promotion in done.select_related("job__requested_by").order_by("id"):
        job = {name: getattr(promotion.job, name) for name in JOB_FIELDS}
        job["requested_by"] = _username(promotion.job.requested_by)
        job["finished_at"] = promotion.job.finished_at
        yield {
            "id": promotion.id,
            "source": promotion.source_id,
            "target": promotion.target_id,
            "target_layer": promotion.target_layer,
            "job": job,
        }


def _events(at: Any) -> Iterator[dict[str, Any]]:
    kept = _datasets_in(at)
    events = ProvenanceEvent.objects.filter(occurred_at__lte=at).filter(
        Q(dataset__isnull=True) | Q(dataset__in=kept)
    )
    rows = events.select_related("actor").prefetch_related("used").order_by("occurred_at", "id")
    for event in rows.iterator(chunk_size=500):
        row = {name: getattr(event, name) for name in EVENT_FIELDS}
        row |= {
            "dataset": event.dataset_id,
            "actor": _username(event.actor),
            "used": sorted(str(d.pk) for d in event.used.all()),
        }
        yield row


def _username(user: User | None) -> str | None:
    return user.username if user is not None else None
