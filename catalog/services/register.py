"""Registration of an S3 prefix through the API, in two halves (SPEC §3 item 6).

The request runs every check and creates the hidden dataset
(``dataset_register_start``); a worker copies and seals it
(``dataset_register_run``) with the copy ``manage.py ingest`` uses
(``ingest.dataset_ingest_copy``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import StorageError

from ..models import Dataset, DatasetStatus, MetadataFormVersion
from .datasets import dataset_fail
from .ingest import dataset_ingest_copy, draft_field_problems, draft_owner_check, origin_files
from .metadata_forms import metadata_clean
from .origins import S3Prefix, shown
from .paths import has_control_characters
from .upload import DatasetDraft, dataset_upload_start

REGISTER_WORKERS = 4
# One listing page: a prefix with fewer objects is checked name by name at once.
PROBE_KEYS = 1000
S3_KEY_BYTES = 1024
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
METADATA_SCALARS = (str, int, float, bool, type(None))


def dataset_register_start(*, draft: DatasetDraft, prefix: str) -> Dataset:
    """Check a registration of ``s3://bucket/prefix/`` and create its hidden dataset.

    Everything knowable before copying is checked, every problem raised at
    once as a ValidationError, before anything is stored: the fields, the
    prefix, the metadata against the form, then (one listing request, two for
    a small prefix) that the bucket is readable and the prefix holds files
    with acceptable names. Once the row is committed a worker is queued to
    copy and seal (``dataset_register_run``).
    """
    draft_owner_check(draft.owner)
    problems = [
        *draft_field_problems(name=draft.name, external_id=draft.external_id),
        *_prefix_problems(prefix),
        *_metadata_problems(draft),
    ]
    if problems:
        raise ValidationError(problems)
    origin = S3Prefix(prefix, connections=REGISTER_WORKERS)
    _probe(origin)
    with transaction.atomic():
        dataset = dataset_upload_start(draft=draft)
        job_request(
            kind="registration",
            requested_by=draft.owner,
            parameters={"dataset": str(dataset.pk), "prefix": origin.label},
            subject=dataset,
        )
    return dataset


def _prefix_problems(prefix: str) -> list[str]:
    """Only S3 prefixes, outside the lake's own buckets, in a form S3Prefix reads as written."""
    if not prefix.startswith("s3://"):
        scheme = prefix.split(":", 1)[0].lower() if ":" in prefix else ""
        if scheme not in ("", "file") and ("://" in prefix or scheme == "s3"):
            return [f"'{shown(prefix)}' is not an S3 prefix: write s3://bucket/prefix/."]
        # The worker would read it on the server's own disk, for any member who asks.
        return [
            f"'{shown(prefix)}' is a folder path: the API registers only S3 prefixes "
            "(s3://bucket/prefix/), never folders on the server. An administrator "
            "can ingest a server folder with manage.py ingest."
        ]
    try:
        parts = urlsplit(prefix)
    except ValueError:  # e.g. "s3://[x/": brackets read as an IPv6 address
        return [f"'{shown(prefix)}' is not an S3 prefix: write s3://bucket/prefix/."]
    problems = []
    if has_control_characters(prefix):
        problems.append("The prefix contains control characters.")
    if "?" in prefix or "#" in prefix:
        problems.append("A prefix cannot contain '?' or '#'.")
    bucket = parts.netloc
    if not bucket:
        problems.append(f"'{shown(prefix)}' names no bucket: write s3://bucket/prefix/.")
    elif not BUCKET_NAME.fullmatch(bucket):
        problems.append(
            f"'{shown(bucket)}' is not an S3 bucket name (3 to 63 lowercase letters, "
            "digits, dots and hyphens)."
        )
    elif bucket in settings.S3_BUCKETS.values():
        # Their backups hold the user table; and lake data is promoted, not re-registered.
        problems.append(f"'{bucket}' is one of the lake's own buckets and cannot be registered.")
    if len(parts.path.encode()) > S3_KEY_BYTES:
        problems.append(f"The prefix is longer than S3's {S3_KEY_BYTES}-byte keys.")
    return problems


def _metadata_problems(draft: DatasetDraft) -> list[str]:
    """Each experiment against the form (unknown keys too), numbered when there are several."""
    version = draft.form_version
    if version is not None and version.form.retired:
        return [f"Metadata form '{version.form}' is retired; choose a current form."]
    problems = []
    many = len(draft.experiments) > 1
    for number, values in enumerate(draft.experiments, start=1):
        odd = _odd_values(values)
        found = odd if version is None else [*odd, *_unknown_keys(values, version)]
        if version is not None and not odd:
            try:
                metadata_clean(version=version, values=values)
            except ValidationError as exc:
                found += exc.messages
        problems += [f"Experiment {number} · {text}" if many else text for text in found]
    return problems


def _odd_values(values: dict[str, Any]) -> list[str]:
    # A form field would read a nested object as its text; nothing else reads it at all.
    return [
        f"Metadata '{shown(key)}' must be text, a number, true/false or a list of those."
        for key, value in values.items()
        if not all(
            isinstance(item, METADATA_SCALARS)
            for item in (value if isinstance(value, list) else [value])
        )
    ]


def _unknown_keys(values: dict[str, Any], version: MetadataFormVersion) -> list[str]:
    # The form would drop them silently.
    fields = [spec["name"] for spec in version.fields]
    return [
        f"Metadata key '{shown(key)}' is not a field of form {version}; "
        f"its fields are: {', '.join(fields) or 'none'}."
        for key in values
        if key not in fields
    ]


def _probe(origin: S3Prefix) -> None:
    """The bucket can be listed and the prefix holds files; a small prefix is checked in full."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        page = origin.client.list_objects_v2(
            Bucket=origin.bucket, Prefix=origin.prefix, MaxKeys=PROBE_KEYS
        )
    except (BotoCoreError, ClientError) as exc:
        raise ValidationError(f"Cannot list {origin.label}: {exc}") from exc
    if page.get("IsTruncated"):
        return  # too many to list in a request: the worker checks every name before copying
    try:
        origin_files(origin)
    except StorageError as exc:
        raise ValidationError(str(exc)) from exc


def dataset_register_run(
    *, dataset_id: str, prefix: str, workers: int = REGISTER_WORKERS
) -> Dataset | None:
    """Copy a registered prefix into its dataset and seal it: the worker's half.

    Safe to run again: a dataset no longer uploading is left alone, and files
    an interrupted attempt recorded are not copied twice. Errors are raised
    for the job runner to retry, or in the end to hand to ``dataset_register_fail``.
    """
    dataset = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.UPLOADING).first()
    if dataset is None:
        return None
    origin = S3Prefix(prefix, connections=workers)
    return dataset_ingest_copy(
        dataset=dataset, origin=origin, workers=workers, parameters={"through": "api"}
    )


def registration_body(ctx: JobContext) -> dict[str, Any]:
    """The job of a registration: copy and seal (``dataset_register_run``)."""
    params = ctx.parameters
    dataset = dataset_register_run(dataset_id=params["dataset"], prefix=params["prefix"])
    if dataset is None:
        return {"dataset": params["dataset"], "note": "nothing to do: no longer uploading"}
    return {"dataset": str(dataset.pk), "files": dataset.file_count, "bytes": dataset.total_size}


def dataset_register_fail(*, dataset_id: str, prefix: str, reason: str) -> None:
    """Mark a registration that cannot finish failed, with a readable reason; remove its files."""
    dataset = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.UPLOADING).first()
    if dataset is None:
        return  # sealed (never undone) or failed already
    dataset_fail(dataset=dataset, reason=f"Registering {prefix} failed: {reason}")


def registration_on_fail(job: Job, reason: str) -> None:
    params = job.parameters
    dataset_register_fail(dataset_id=params["dataset"], prefix=params["prefix"], reason=reason)
