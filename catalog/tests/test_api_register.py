"""``POST /api/datasets/register/`` and ``GET /api/datasets/<id>/status/``.

The objects to register sit in a bucket of the S3 endpoint the lake uses (a
moto server in another process, over HTTP), put there with boto3 first. The
request only checks and queues; the test runs the queued task itself, through
Celery's ``apply`` (the task's retry and failure hooks included).
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from typing import Any

import boto3
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from catalog.models import (
    Activity,
    DataFile,
    Dataset,
    DatasetStatus,
    DerivationSource,
    Layer,
    ProvenanceEvent,
    Source,
)
from catalog.services import (
    DatasetDraft,
    dataset_file_store,
    dataset_upload_start,
    form_version_current,
)
from catalog.services import register as register_service
from conftest import ROLES, read_object
from lakeweb.jobs.models import Job
from lakeweb.jobs.runner import job_run
from lakeweb.jobs.tasks import job_run_task
from lakeweb.storage import layer_store

from .factories import DatasetFactory, microscopy_form

pytestmark = pytest.mark.django_db

REGISTER = {"anonymous": 401, "nobody": 403, "viewer": 403, "member": 202, "curator": 202}
REGISTER["admin"] = 202
STATUS = {"anonymous": 401, "viewer": 403, "member": 200, "curator": 200, "admin": 200}
OBJECTS = {
    "frame 001.tif": b"\x49\x49\x2a\x00" + b"a" * 3000,
    "día 2/señal ü.txt": "Température 37 °C\n".encode(),
    "nested/deeper/data.bin": bytes(range(256)) * 4,
    "nested/empty.dat": b"",
}
EXPERIMENT = {"sample": "HeLa-1", "magnification": 40, "stain": "DAPI"}
URL = "/api/datasets/register/"


def s3_client() -> Any:
    return boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        region_name=settings.S3_REGION,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY,
    )


def put_objects(bucket: str, objects: dict[str, bytes]) -> None:
    client = s3_client()
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)


@pytest.fixture
def bucket(s3_lake, settings) -> str:
    """A bucket outside the lake, listed in REGISTER_BUCKETS, with a run under ``runs/2024/``."""
    name = f"src-{uuid.uuid4().hex[:12]}"
    settings.REGISTER_BUCKETS = [name]
    s3_client().create_bucket(Bucket=name)
    objects = {f"runs/2024/{path}": data for path, data in OBJECTS.items()}
    objects["runs/2024/notes/"] = b""  # a folder marker, not a file
    objects["runs/20245/not-this.txt"] = b"sibling prefix"
    put_objects(name, objects)
    return name


@pytest.fixture
def form():
    return microscopy_form()


@pytest.fixture
def body(bucket: str, form) -> dict[str, Any]:
    """A registration that passes every check."""
    return {
        "prefix": f"s3://{bucket}/runs/2024/",
        "name": "Run 2024",
        "description": "Time-lapse, 37 °C",
        "source": "instrument",
        "external_id": "GSE2034",
        "form": form.name,
        "metadata": EXPERIMENT,
        "tags": ["microscopy", "time-lapse"],
    }


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, str]]:
    """What the requests queue for a worker (see ``register``): (dataset, prefix) per job."""
    sent: list[tuple[str, str]] = []

    def send(args: list[str], **options: Any) -> None:
        params = Job.objects.get(pk=args[0]).parameters
        sent.append((params["dataset"], params["prefix"]))

    monkeypatch.setattr(job_run_task, "apply_async", send)
    return sent


@pytest.fixture
def register(api_for, queued, django_capture_on_commit_callbacks):
    """``register(body, role)``: POST it; what the request queues once it commits is queued."""

    def post(body: dict[str, Any], role: str = "member", client: Any = None) -> Any:
        client = client or api_for(role)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, body, format="json")

    return post


def run_queued(queued: list[tuple[str, str]]) -> None:
    """Run what was queued as a worker would (through the job runner, hooks included)."""
    for dataset_id, _prefix in queued:
        job = Job.objects.get(kind="registration", parameters__dataset=dataset_id)
        job_run(job_id=job.pk)


def status_of(api_for, dataset_id: Any, role: str = "member") -> dict[str, Any]:
    response = api_for(role).get(reverse("api:dataset_status", args=[dataset_id]))
    assert response.status_code == 200
    return response.json()


def assert_nothing_stored(queued: list[tuple[str, str]]) -> None:
    assert not Dataset.objects.exists() and not DataFile.objects.exists()
    assert list(layer_store("raw").list_keys("")) == []
    assert queued == []


# --- permissions per role -----------------------------------------------------------


@pytest.mark.parametrize("role", [*ROLES, "nobody"])
def test_register_per_role(
    register, api_for, users, django_user_model, body, queued, role: str
) -> None:
    if role == "nobody":  # logged in, no role yet
        client = APIClient()
        client.force_authenticate(
            django_user_model.objects.create_user(username="n", email="n@lab.example")
        )
        response = register(body, client=client)
    else:
        response = register(body, role)

    assert response.status_code == REGISTER[role]
    if response.status_code != 202:
        expected = {
            401: "Authentication credentials were not provided.",
            403: "Only lab members can register datasets.",
        }[response.status_code]
        assert response.json() == {"detail": expected}
        assert_nothing_stored(queued)
        return
    dataset = Dataset.objects.get()
    assert dataset.owner == users[role] and dataset.status == DatasetStatus.UPLOADING
    reply = response.json()
    assert reply["id"] == str(dataset.pk) and reply["status"] == "uploading"
    assert reply["files"] == 0 and reply["failure_reason"] == ""
    status_url = f"http://testserver/api/datasets/{dataset.pk}/status/"
    assert reply["status_url"] == status_url and response["Location"] == status_url
    assert reply["url"] == f"http://testserver/api/datasets/{dataset.pk}/"
    assert queued == [(str(dataset.pk), body["prefix"])]


def test_session_registration_needs_the_csrf_token(users, body, queued) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["member"], backend="django.contrib.auth.backends.ModelBackend")

    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert_nothing_stored(queued)


def test_a_form_post_is_refused_as_the_wrong_media_type(api_for, body, queued) -> None:
    fields = {key: value for key, value in body.items() if isinstance(value, str)}

    response = api_for("member").post(URL, fields)  # multipart, as a browser form sends

    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')
    assert_nothing_stored(queued)


def _uploading(owner, form) -> Dataset:
    draft = DatasetDraft(
        owner=owner,
        name="Copying",
        source=Source.objects.get(slug="instrument"),
        experiments=[EXPERIMENT],
        form_version=form_version_current(form=form),
    )
    return dataset_upload_start(draft=draft)


@pytest.mark.parametrize("role", ROLES)
def test_status_per_role(api_for, member, form, role: str) -> None:
    dataset = _uploading(member, form)

    response = api_for(role).get(reverse("api:dataset_status", args=[dataset.pk]))

    assert response.status_code == STATUS[role]
    if response.status_code == 200:
        assert response.json()["status"] == "uploading"
    elif role == "viewer":
        expected = "Only the dataset's owner or a curator can see its status."
        assert response.json() == {"detail": expected}


def test_status_of_another_members_dataset_is_refused(member, form) -> None:
    other = type(member).objects.create_user(username="o", email="other@lab.example")
    other.groups.set(member.groups.all())
    dataset = _uploading(other, form)
    client = APIClient()
    client.force_authenticate(member)

    response = client.get(reverse("api:dataset_status", args=[dataset.pk]))

    assert response.status_code == 403
    assert response.json()["detail"] == "Only the dataset's owner or a curator can see its status."


def test_status_of_an_unknown_dataset_is_a_json_404(api_for, users) -> None:
    response = api_for("curator").get(reverse("api:dataset_status", args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert response.json() == {"detail": "No dataset with this id."}


# --- the whole life: register, copy, ready ------------------------------------------


def test_register_copies_and_seals_the_prefix(
    register, api_for, member, body, form, queued
) -> None:
    body["form"] = str(form.pk)  # by id works as well as by name

    response = register(body)

    assert response.status_code == 202, response.json()
    dataset_id = response.json()["id"]
    # Not browsable until sealed; its owner follows it on the status endpoint.
    assert (
        api_for("member").get(reverse("api:dataset_detail", args=[dataset_id])).status_code == 404
    )
    assert status_of(api_for, dataset_id)["status"] == "uploading"

    run_queued(queued)

    dataset = Dataset.objects.get(pk=dataset_id)
    assert dataset.status == DatasetStatus.READY and dataset.sealed_at is not None
    assert sorted(dataset.files.values_list("path", flat=True)) == sorted(OBJECTS)
    for datafile in dataset.files.all():
        data = OBJECTS[datafile.path]
        assert datafile.size == len(data)
        assert datafile.sha256 == hashlib.sha256(data).hexdigest()
        assert read_object("raw", datafile.storage_key) == data
    assert dataset.name == "Run 2024" and dataset.external_id == "GSE2034"
    assert dataset.description == "Time-lapse, 37 °C" and dataset.owner == member
    assert dataset.form_version == form_version_current(form=form)
    assert dataset.metadata["experiments"] == [EXPERIMENT]
    assert sorted(dataset.tags.values_list("name", flat=True)) == ["microscopy", "time-lapse"]
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.COLLECTION and event.actor == member
    assert event.parameters == {
        "files": len(OBJECTS),
        "bytes": sum(len(data) for data in OBJECTS.values()),
        "via": "ingest",
        "origin": body["prefix"],
        "through": "api",
    }
    state = status_of(api_for, dataset_id)
    assert state["status"] == "ready" and state["files"] == len(OBJECTS)
    assert state["bytes"] == dataset.total_size and state["sealed_at"]
    detail = api_for("viewer").get(reverse("api:dataset_detail", args=[dataset_id])).json()
    assert detail["manifest_digest"] == dataset.manifest_digest


def test_several_experiments_are_kept_as_a_list(register, api_for, body, queued) -> None:
    del body["metadata"]
    body["experiments"] = [EXPERIMENT, {**EXPERIMENT, "sample": "HeLa-2", "stain": "GFP"}]

    assert register(body).status_code == 202
    run_queued(queued)

    experiments = Dataset.objects.get().metadata["experiments"]
    assert [experiment["sample"] for experiment in experiments] == ["HeLa-1", "HeLa-2"]


def test_a_prefix_emptied_before_the_copy_fails_with_a_reason(
    register, api_for, bucket, body, queued
) -> None:
    dataset_id = register(body).json()["id"]
    client = s3_client()
    for key in OBJECTS:
        client.delete_object(Bucket=bucket, Key=f"runs/2024/{key}")

    run_queued(queued)

    state = status_of(api_for, dataset_id)
    assert state["status"] == "failed" and state["files"] == 0
    assert state["failure_reason"] == (
        f"Registering {body['prefix']} failed: {body['prefix']} has no files to ingest."
    )
    assert state["sealed_at"] is None
    dataset = Dataset.objects.get(pk=dataset_id)
    assert list(layer_store("raw").list_keys(dataset.storage_prefix)) == []
    assert not ProvenanceEvent.objects.filter(dataset=dataset).exists()
    assert status_of(api_for, dataset_id, "curator")["status"] == "failed"


def test_an_interrupted_copy_resumes_and_a_second_delivery_does_nothing(
    register, api_for, member, body, queued
) -> None:
    dataset_id = register(body).json()["id"]
    dataset = Dataset.objects.get(pk=dataset_id)
    # A first attempt stored one file before the worker died.
    first = "nested/deeper/data.bin"
    dataset_file_store(dataset=dataset, path=first, stream=io.BytesIO(OBJECTS[first]))
    state = status_of(api_for, dataset_id)
    assert (state["status"], state["files"], state["bytes"]) == ("uploading", 1, 1024)

    run_queued(queued)

    dataset.refresh_from_db()
    assert dataset.status == DatasetStatus.READY and dataset.file_count == len(OBJECTS)
    sealed = (dataset.sealed_at, dataset.manifest_digest)
    run_queued(queued)  # redelivered: the dataset is ready, nothing happens
    dataset.refresh_from_db()
    assert (dataset.sealed_at, dataset.manifest_digest) == sealed
    assert ProvenanceEvent.objects.filter(dataset=dataset).count() == 1


def test_a_prefix_too_large_to_list_in_the_request_is_checked_by_the_worker(
    register, api_for, monkeypatch, bucket, body, queued
) -> None:
    put_objects(bucket, {"runs/2024/bad//name.txt": b"x"})
    monkeypatch.setattr(register_service, "PROBE_KEYS", 2)  # so the listing is "truncated"

    response = register(body)
    assert response.status_code == 202
    run_queued(queued)

    state = status_of(api_for, response.json()["id"])
    assert state["status"] == "failed"
    assert "File name 'bad//name.txt' has an empty, '.' or '..' part" in state["failure_reason"]
    assert list(layer_store("raw").list_keys("")) == []


# --- bad input: a 400 that says why, and nothing stored or queued --------------------


def _lake_bucket(body: dict[str, Any]) -> None:
    body["prefix"] = f"s3://{settings.S3_BUCKETS['archive']}/backups/"


def _second_experiment_incomplete(body: dict[str, Any]) -> None:
    del body["metadata"]
    body["experiments"] = [EXPERIMENT, {"stain": "GFP"}]


BAD = [
    ({"source": "telescope"}, "source: Unknown source 'telescope'. Known sources:"),
    ({"form": "No such form"}, "form: Unknown metadata form 'No such form'"),
    ({"form": "999999"}, "form: Unknown metadata form '999999'"),
    # str.isdigit() takes '²' and int() refuses it: a clear 400, not a 500.
    ({"form": "\u00b2"}, "form: Unknown metadata form '\u00b2'"),
    ({"form": "9" * 30}, "form: Unknown metadata form '999"),
    ({"name": "   "}, "name: This field may not be blank."),
    ({"name": "n" * 256}, "name: Ensure this field has no more than 255 characters."),
    ({"external_id": "x" * 201}, "external_id: Ensure this field has no more than 200"),
    ({"metadata": "sample=x"}, 'metadata: Expected a dictionary of items but got type "str".'),
    ({"tags": "microscopy"}, 'tags: Expected a list of items but got type "str".'),
    ({"experiments": []}, "experiments: Ensure this field has at least 1 elements."),
    ({"experiments": [EXPERIMENT]}, "Give either metadata (one experiment) or experiments"),
    ({"prefix": "/srv/lab/run1"}, "'/srv/lab/run1' is a folder path: the API registers only S3"),
    ({"prefix": "runs/2024"}, "'runs/2024' is a folder path: the API registers only S3"),
    ({"prefix": "file:///etc/"}, "'file:///etc/' is a folder path"),
    ({"prefix": "s3:/bucket/runs/"}, "'s3:/bucket/runs/' is not an S3 prefix: write s3://"),
    ({"prefix": "https://example.org/runs/"}, "is not an S3 prefix: write s3://bucket/prefix/."),
    ({"prefix": "s3://"}, "'s3://' names no bucket: write s3://bucket/prefix/."),
    ({"prefix": "s3://[x/runs/"}, "'s3://[x/runs/' is not an S3 prefix: write s3://"),
    ({"prefix": "s3://Lab_Data/runs/"}, "'Lab_Data' is not an S3 bucket name"),
    ({"prefix": "s3://lab-data/run#1/"}, "A prefix cannot contain '?' or '#'."),
    ({"prefix": "s3://lab-data/run\n1/"}, "The prefix contains control characters."),
    ({"prefix": "s3://lab-data/run\u202e1/"}, "The prefix contains control characters."),
    ({"prefix": "s3://lab-data/run\u200e1/"}, "The prefix contains control characters."),
    ({"prefix": "s3://lab-data/run\u20281/"}, "The prefix contains control characters."),
    ({"prefix": "s3://lab-data/run\x851/"}, "The prefix contains control characters."),
    ({"prefix": "s3://lab-data/" + "k" * 1025}, "longer than S3's 1024-byte keys"),
    (_lake_bucket, "is one of the lake's own buckets and cannot be registered."),
    (
        {"metadata": {"sample": "", "magnification": 5000, "stain": "purple"}},
        "Sample name: This field is required. Magnification: Ensure this value is less than "
        "or equal to 1000. Stain: Select a valid choice. purple is not one of the available",
    ),
    ({"metadata": {**EXPERIMENT, "colour": "red"}}, "Metadata key 'colour' is not a field of"),
    ({"metadata": {**EXPERIMENT, "sample": {"a": 1}}}, "Metadata 'sample' must be text, a num"),
    (_second_experiment_incomplete, "Experiment 2 · Sample name: This field is required."),
]


@pytest.mark.parametrize("change, message", BAD)
def test_bad_input_is_refused_with_the_reason(
    register, api_for, body, queued, change: Any, message: str
) -> None:
    if callable(change):
        change(body)
    else:
        body.update(change)

    response = register(body)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert_nothing_stored(queued)


def test_a_missing_name_and_source_are_both_listed(register, api_for, body, queued) -> None:
    del body["name"], body["source"]

    response = register(body)

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "name: This field is required. source: This field is required."
    )
    assert_nothing_stored(queued)


def test_every_problem_found_before_copying_is_listed_at_once(
    register, api_for, body, queued
) -> None:
    body.update(prefix="/etc", metadata={"sample": "", "colour": "red"})

    response = register(body)

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "'/etc' is a folder path" in detail
    assert "Metadata key 'colour' is not a field of form" in detail
    assert "Sample name: This field is required." in detail
    assert_nothing_stored(queued)


def test_a_retired_form_is_refused(register, api_for, body, form, queued) -> None:
    form.retired = True
    form.save()

    response = register(body)

    assert response.status_code == 400
    assert (
        f"Metadata form '{form.name}' is retired; choose a current form."
        in (response.json()["detail"])
    )
    assert_nothing_stored(queued)


@pytest.mark.parametrize(
    "prefix, message",
    [
        ("s3://{bucket}/empty/", "s3://{bucket}/empty/ has no files to ingest."),
        ("s3://{bucket}/runs/20", "s3://{bucket}/runs/20/ has no files to ingest."),
        ("s3://no-such-bucket-{run}/runs/", "Cannot list s3://no-such-bucket-{run}/runs/"),
    ],
)
def test_an_empty_prefix_or_missing_bucket_is_refused(
    register, api_for, settings, bucket, body, queued, prefix: str, message: str
) -> None:
    put_objects(bucket, {"empty/": b""})  # a folder marker alone holds no files
    run = uuid.uuid4().hex[:8]
    settings.REGISTER_BUCKETS = [bucket, f"no-such-bucket-{run}"]
    body["prefix"] = prefix.format(bucket=bucket, run=run)

    response = register(body)

    assert response.status_code == 400
    assert message.format(bucket=bucket, run=run) in response.json()["detail"]
    assert_nothing_stored(queued)


def test_bad_object_names_in_a_small_prefix_are_refused_at_once(
    register, api_for, bucket, body, queued
) -> None:
    put_objects(bucket, {"runs/2024/a//b.txt": b"x", "runs/2024/frame 001.tif/x": b"y"})

    response = register(body)

    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "File name 'a//b.txt' has an empty, '.' or '..' part" in detail
    assert "'frame 001.tif' is both a file and a folder." in detail
    assert_nothing_stored(queued)


def test_the_schema_lists_register_and_status(api_for) -> None:
    paths = api_for("viewer").get(reverse("api:schema"), {"format": "json"}).json()["paths"]
    assert "post" in paths["/api/datasets/register/"]
    assert "get" in paths["/api/datasets/{id}/status/"]


# --- which buckets, and metadata a store can keep ----------------------------------------


def test_with_no_register_buckets_registration_is_refused(register, settings, body, queued) -> None:
    settings.REGISTER_BUCKETS = []

    response = register(body)

    assert response.status_code == 403
    assert response.json() == {"detail": register_service.REGISTER_OFF}
    assert_nothing_stored(queued)


def test_a_bucket_not_listed_is_refused_and_the_listed_ones_named(
    register, settings, bucket, body, queued
) -> None:
    other = f"src-{uuid.uuid4().hex[:12]}"
    s3_client().create_bucket(Bucket=other)  # readable with the app's credentials
    put_objects(other, {"runs/2024/a.txt": b"x"})
    body["prefix"] = f"s3://{other}/runs/2024/"

    response = register(body)

    assert response.status_code == 400
    assert response.json()["detail"] == (
        f"'{other}' is not a bucket datasets may be registered from; these are: {bucket}."
    )
    assert_nothing_stored(queued)


LONG_KEY = "k" * (register_service.METADATA_KEY_MAX + 1)
UNSTORED = [
    # Without a form the metadata is kept as sent: the key would fail in the worker.
    (
        {"form": None, "metadata": {LONG_KEY: "x"}},
        f"Metadata key '{LONG_KEY}' is longer than 64 characters.",
    ),
    ({"form": None, "metadata": {"a\x00b": "x"}}, "In the JSON body, a key in metadata holds a"),
    ({"form": None, "metadata": {"a\u202eb": "x"}}, "Metadata key 'a\\u202eb' contains control"),
    ({"form": None, "metadata": {"note": "a\x00b"}}, "the text at metadata.note holds a NUL"),
    ({"metadata": {**EXPERIMENT, "sample": "He\x00La"}}, "the text at metadata.sample holds"),
    ({"form": None, "metadata": {"note": "n" * 10_001}}, "Metadata 'note' is longer than 10,000"),
    ({"form": None, "metadata": {"n": list(range(201))}}, "Metadata 'n' lists more than 200"),
    (
        {"form": None, "metadata": {f"k{n}": n for n in range(201)}},
        "An experiment has 201 metadata keys; at most 200.",
    ),
    ({"form": None, "metadata": {"": 1}}, "A metadata key is empty."),
    ({"tags": ["t"] * 51}, "tags: Ensure this field has no more than 50 elements."),
]


@pytest.mark.parametrize(
    "change, message",
    UNSTORED,
    ids=[
        "long-key",
        "nul-key",
        "bidi-key",
        "nul-value",
        "nul-form-value",
        "long",
        "list",
        "keys",
        "empty",
        "tags",
    ],
)
def test_metadata_no_store_can_keep_is_refused_at_once(
    register, body, queued, change: dict[str, Any], message: str
) -> None:
    body.update(change)
    if body["form"] is None:
        del body["form"]

    response = register(body)

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert_nothing_stored(queued)


@pytest.mark.parametrize(
    "text, message",
    [
        ('"sample": "He\\ud800La"', "the text at metadata.sample holds a NUL (\\u0000) or a"),
        ('"sample": 1e999', "JSON parse error - 1e999 is too large a number"),
        ('"sample": ' + "[" * 5000 + "]" * 5000, "is nested more than 20 levels deep."),
    ],
    ids=["surrogate", "infinite", "nested"],
)
def test_a_body_json_cannot_carry_is_refused_at_once(
    api_for, queued, body, text: str, message: str
) -> None:
    raw = json.dumps({**body, "metadata": {}})[:-1] + ', "metadata": {' + text + "}}"

    response = api_for("member").post(URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert_nothing_stored(queued)


def test_the_service_refuses_unstorable_metadata_from_any_caller(member, settings) -> None:
    settings.REGISTER_BUCKETS = ["lab-data"]
    draft = DatasetDraft(
        owner=member,
        name="From the command line",
        source=Source.objects.get(slug="instrument"),
        experiments=[{"sample": "He\ud800La", "note\x00": 1.0, "x": float("inf")}],
    )

    with pytest.raises(ValidationError) as refused:
        register_service.dataset_register_start(draft=draft, prefix="s3://lab-data/runs/")

    assert refused.value.messages == [
        "Metadata 'sample' holds a NUL or a lone surrogate, which cannot be stored.",
        "Metadata key 'note\\x00' contains control characters.",
        "Metadata 'x' is not a finite number.",
    ]
    assert not Dataset.objects.exists() and not Job.objects.exists()


# --- derived from ready datasets (issue 13): checked before the bucket is read ------


@pytest.fixture
def source(member) -> Dataset:
    return DatasetFactory(owner=member, name="Raw run", layer=Layer.RAW)


def _derived_counts() -> tuple[int, int, int, list[str]]:
    keys = sorted(layer_store(Layer.PROCESSED).list_keys("")) + sorted(
        layer_store(Layer.CURATED).list_keys("")
    )
    return (
        Dataset.objects.count(),
        DerivationSource.objects.count(),
        ProvenanceEvent.objects.count(),
        keys,
    )


def test_a_registration_derived_from_a_dataset_lands_in_processed(
    register, body, source, queued, member
) -> None:
    body.update(derived_from=[str(source.pk)], layer="processed")

    response = register(body)

    assert response.status_code == 202, response.json()
    assert response.json()["layer"] == "processed"
    run_queued(queued)
    dataset = Dataset.objects.get(pk=response.json()["id"])
    assert dataset.layer == Layer.PROCESSED and dataset.status == "ready"
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.DERIVATION and list(event.used.all()) == [source]
    assert event.parameters["sources"] == [
        {
            "dataset": str(source.pk),
            "name": "Raw run",
            "layer": "raw",
            "manifest_digest": source.manifest_digest,
        }
    ]
    assert event.parameters["origin"] == body["prefix"]
    for datafile in dataset.files.all():
        assert layer_store(Layer.PROCESSED).exists(datafile.storage_key)


def _derive_refused(register, body, queued, status: int, role: str = "member") -> dict[str, Any]:
    before = _derived_counts()
    response = register(body, role)
    assert response.status_code == status, response.json()
    assert _derived_counts() == before and queued == []
    return response.json()


def test_a_missing_source_is_refused_before_the_bucket_is_read(
    register, body, queued, source
) -> None:
    missing = uuid.uuid4()
    body.update(derived_from=[str(source.pk), str(missing)], layer="processed")
    reply = _derive_refused(register, body, queued, 400)
    assert reply["detail"] == f"No dataset has the id {missing}."


def test_a_source_not_ready_is_refused(register, body, queued, source) -> None:
    Dataset.objects.filter(pk=source.pk).update(status="failed")
    body.update(derived_from=[str(source.pk)], layer="processed")
    reply = _derive_refused(register, body, queued, 400)
    assert reply["detail"] == (
        f"'Raw run' ({source.pk}) is failed: only ready datasets can be derived from."
    )


def test_malformed_and_too_many_ids_are_refused(register, body, queued) -> None:
    body.update(derived_from=["nope"], layer="processed")
    reply = _derive_refused(register, body, queued, 400)
    assert reply["detail"] == "'nope' is not a dataset id."
    body.update(derived_from=[str(uuid.uuid4()) for _ in range(51)])
    reply = _derive_refused(register, body, queued, 400)
    assert reply["errors"]["derived_from"] == ["Ensure this field has no more than 50 elements."]


def test_deriving_into_raw_is_refused(register, body, queued, source) -> None:
    body.update(derived_from=[str(source.pk)], layer="raw")
    reply = _derive_refused(register, body, queued, 400)
    assert reply["detail"] == (
        "A derived dataset goes into processed or curated, never raw: raw holds original data only."
    )


DERIVE_CURATED = {"anonymous": 401, "viewer": 403, "member": 403, "curator": 202, "admin": 202}


@pytest.mark.parametrize("role", ROLES)
def test_registering_into_curated_per_role(register, body, queued, source, role) -> None:
    body.update(derived_from=[str(source.pk)], layer="curated")
    if DERIVE_CURATED[role] != 202:
        reply = _derive_refused(register, body, queued, DERIVE_CURATED[role], role)
        assert reply["detail"] in (
            "Authentication credentials were not provided.",
            "Only lab members can register datasets.",
            "Only curators can put a dataset into curated; lab members derive into processed.",
        )
        return
    response = register(body, role)
    assert response.status_code == 202, response.json()
    assert Dataset.objects.get(pk=response.json()["id"]).layer == Layer.CURATED
