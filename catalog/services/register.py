"""Registration of an S3 prefix through the API, in two halves (SPEC §3 item 6).

The request runs every check and creates the hidden dataset
(``dataset_register_start``); a worker copies and seals it
(``dataset_register_run``) with the copy ``manage.py ingest`` uses
(``ingest.dataset_ingest_copy``).
"""

from __future__ import annotations

import math
import re
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from lakeweb.errors import PermissionRefused
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import JobContext
from lakeweb.jobs.services import job_request
from lakeweb.storage import StorageError
from lakeweb.text import text_unstorable

from ..metadata import METADATA_TEXT_MAX
from ..models import Dataset, DatasetStatus, FieldValueTally, MetadataFormVersion
from .datasets import dataset_fail
from .derive import derivation_sources_check
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
# A key is a form field's name, and the value tally's (64 characters); a text
# value as long as a form's text field takes; as many keys and list items as a
# lab's form could plausibly have. Bounded before a form validates anything.
METADATA_KEY_MAX = cast(int, FieldValueTally._meta.get_field("name").max_length)
METADATA_KEYS_MAX = 200
METADATA_LIST_MAX = 200
SHOWN_MAX = 80
REGISTER_OFF = (
    "Registering from S3 is turned off: an administrator lists the buckets members "
    "may register from in REGISTER_BUCKETS."
)


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
    if not settings.REGISTER_BUCKETS:
        raise PermissionRefused(REGISTER_OFF)
    # Before the bucket is listed: wrong sources need no request to S3.
    derivation_sources_check(user=draft.owner, ids=draft.derived_from, layer=draft.layer)
    problems = [
        *draft_field_problems(draft),
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
    elif bucket not in settings.REGISTER_BUCKETS:
        # The app's credentials may read buckets members should not copy from.
        problems.append(
            f"'{bucket}' is not a bucket datasets may be registered from; "
            f"these are: {', '.join(settings.REGISTER_BUCKETS)}."
        )
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
        odd = _value_problems(values)
        found = odd if version is None else [*odd, *_unknown_keys(values, version)]
        if version is not None and not odd:
            try:
                metadata_clean(version=version, values=values)
            except ValidationError as exc:
                found += exc.messages
        problems += [f"Experiment {number} · {text}" if many else text for text in found]
    return problems


def _value_problems(values: dict[str, Any]) -> list[str]:
    """Keys and values any store can keep, bounded, before a form reads them."""
    if len(values) > METADATA_KEYS_MAX:
        return [f"An experiment has {len(values)} metadata keys; at most {METADATA_KEYS_MAX}."]
    problems = []
    for key, value in values.items():
        problems += _key_problems(key)
        items = value if isinstance(value, list) else [value]
        if len(items) > METADATA_LIST_MAX:
            problems.append(f"Metadata '{_shown(key)}' lists more than {METADATA_LIST_MAX} values.")
        elif not all(isinstance(item, METADATA_SCALARS) for item in items):
            # A form field would read a nested object as its text; nothing else reads it at all.
            problems.append(
                f"Metadata '{_shown(key)}' must be text, a number, true/false or a list of those."
            )
        else:
            problems += [problem for item in items for problem in _scalar_problems(key, item)]
    return problems


def _key_problems(key: str) -> list[str]:
    if not key.strip():
        return ["A metadata key is empty."]
    if has_control_characters(key):  # NUL and lone surrogates too
        return [f"Metadata key '{_shown(key)}' contains control characters."]
    if len(key) > METADATA_KEY_MAX:
        return [f"Metadata key '{_shown(key)}' is longer than {METADATA_KEY_MAX} characters."]
    return []


def _scalar_problems(key: str, value: Any) -> list[str]:
    if isinstance(value, float) and not math.isfinite(value):
        return [f"Metadata '{_shown(key)}' is not a finite number."]
    if not isinstance(value, str):
        return []
    if text_unstorable(value):
        return [
            f"Metadata '{_shown(key)}' holds a NUL or a lone surrogate, which cannot be stored."
        ]
    if len(value) > METADATA_TEXT_MAX:
        return [f"Metadata '{_shown(key)}' is longer than {METADATA_TEXT_MAX:,} characters."]
    return []


def _shown(text: str) -> str:
    return shown(text[:SHOWN_MAX]) + ("…" if len(text) > SHOWN_MAX else "")


def _unknown_keys(values: dict[str, Any], version: MetadataFormVersion) -> list[str]:
    # The form would drop them silently.
    fields = [spec["name"] for spec in version.fields]
    return [
        f"Metadata key '{_shown(key)}' is not a field of form {version}; "
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
