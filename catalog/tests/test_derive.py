"""Derived uploads: "derived from" ready datasets, into processed or curated (issue 13 item 1).

The resumable protocol (the page with JavaScript) and the plain form post
(without) both take ``derived_from`` and ``layer``; every refusal is checked
for its message, its status and that nothing was stored (rows and objects
counted before and after).
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from catalog.models import (
    Activity,
    DataFile,
    Dataset,
    DatasetStatus,
    DerivationSource,
    Layer,
    ProvenanceEvent,
    UploadFile,
)
from catalog.services.derive import MAX_DERIVED_FROM
from conftest import ROLES, read_object
from lakeweb.storage import layer_store

from .factories import DatasetFactory, microscopy_form, upload_dataset
from .test_upload_protocol import _finish, _send_all

pytestmark = pytest.mark.django_db
TREE = {"table/filtered.csv": b"a,b\n1,2\n", "table/notes.txt": "normalisé\n".encode()}


@pytest.fixture
def form():
    return microscopy_form()


@pytest.fixture
def sources(member):
    """Two ready raw datasets with files, uploaded through the real service."""
    return [
        upload_dataset(member, name="Raw run A"),
        upload_dataset(member, name="Raw run B", files={"x.txt": b"other bytes"}),
    ]


def _start(client, form, *, derived_from, layer="processed", tree=TREE, **overrides):
    data = {
        "name": "Filtered run",
        "source": "upload",
        "exp0-sample": "A",
        "manifest": json.dumps([{"path": p, "size": len(d)} for p, d in tree.items()]),
        "derived_from": ", ".join(str(pk) for pk in derived_from),
        "layer": layer,
        **overrides,
    }
    return client.post(reverse("catalog:upload_start", args=[form.pk]), data)


def _stored() -> dict[str, object]:
    """Every row and object a refused upload could leave behind."""
    return {
        "datasets": Dataset.objects.count(),
        "uploads": UploadFile.objects.count(),
        "files": DataFile.objects.count(),
        "sources": DerivationSource.objects.count(),
        "events": ProvenanceEvent.objects.count(),
        "objects": {
            layer: sorted(layer_store(layer).list_keys(""))
            for layer in (Layer.RAW, Layer.PROCESSED, Layer.CURATED)
        },
    }


# --- the protocol: derive, resume, seal --------------------------------------------


def test_a_derived_upload_goes_to_processed_and_records_its_sources(
    lake, client_for, member, form, sources
) -> None:
    client = client_for("member")
    started = _start(client, form, derived_from=[s.pk for s in sources])
    assert started.status_code == 201, started.content[:300]
    status = started.json()
    _send_all(client, status, tree=TREE)

    response = _finish(client, status["upload"])

    assert response.status_code == 200, response.json()
    dataset = Dataset.objects.get(pk=status["upload"])
    assert dataset.layer == Layer.PROCESSED and dataset.status == DatasetStatus.READY
    for datafile in dataset.files.all():
        assert read_object(Layer.PROCESSED, datafile.storage_key) == TREE[datafile.path]
    event = ProvenanceEvent.objects.get(dataset=dataset)
    assert event.activity == Activity.DERIVATION and event.actor == member
    assert event.target_layer == Layer.PROCESSED
    assert set(event.used.all()) == set(sources)
    assert event.parameters["sources"] == [
        {
            "dataset": str(s.pk),
            "name": s.name,
            "layer": "raw",
            "manifest_digest": s.manifest_digest,
        }
        for s in sources
    ]
    assert event.parameters["files"] == 2 and event.parameters["via"] == "upload"
    assert not DerivationSource.objects.exists()  # bookkeeping gone; the event stays


def test_a_resumed_derived_upload_keeps_its_sources(client_for, form, sources) -> None:
    client = client_for("member")
    status = _start(client, form, derived_from=[sources[1].pk]).json()
    _send_all(client, status, tree=TREE, stop_after=1)  # then the page is closed

    # A new page asks what the upload began with: the layer and the sources.
    resumed = client.get(reverse("catalog:upload_session", args=[status["upload"]])).json()
    assert resumed["draft"]["layer"] == "processed"
    assert resumed["draft"]["derived_from"] == [
        {
            "dataset": str(sources[1].pk),
            "name": "Raw run B",
            "layer": "raw",
            "manifest_digest": sources[1].manifest_digest,
        }
    ]
    _send_all(client, resumed, tree=TREE)
    assert _finish(client, status["upload"]).status_code == 200

    event = ProvenanceEvent.objects.get(dataset_id=status["upload"])
    assert event.activity == Activity.DERIVATION
    assert list(event.used.all()) == [sources[1]]


def test_a_curator_derives_into_curated(client_for, curator, form) -> None:
    source = DatasetFactory(owner=curator, layer=Layer.PROCESSED, name="Processed run")
    client = client_for("curator")
    status = _start(client, form, derived_from=[source.pk], layer="curated").json()
    _send_all(client, status, tree=TREE)
    assert _finish(client, status["upload"]).status_code == 200

    dataset = Dataset.objects.get(pk=status["upload"])
    assert dataset.layer == Layer.CURATED
    assert ProvenanceEvent.objects.get(dataset=dataset).parameters["sources"][0]["layer"] == (
        "processed"
    )


def test_an_upload_derived_from_nothing_stays_raw(client_for, form) -> None:
    client = client_for("member")
    status = _start(client, form, derived_from=[], layer="").json()
    _send_all(client, status, tree=TREE)
    assert _finish(client, status["upload"]).status_code == 200
    dataset = Dataset.objects.get(pk=status["upload"])
    assert dataset.layer == Layer.RAW
    assert ProvenanceEvent.objects.get(dataset=dataset).activity == Activity.COLLECTION


def test_cancelling_a_derived_upload_drops_its_sources(client_for, form, sources) -> None:
    client = client_for("member")
    status = _start(client, form, derived_from=[sources[0].pk]).json()
    assert DerivationSource.objects.count() == 1
    response = client.delete(reverse("catalog:upload_session", args=[status["upload"]]))
    assert response.status_code == 200
    assert not DerivationSource.objects.exists()
    assert Dataset.objects.get(pk=status["upload"]).status == DatasetStatus.FAILED
    assert not ProvenanceEvent.objects.filter(dataset_id=status["upload"]).exists()


# --- without JavaScript -------------------------------------------------------------


def _page_post(client, form, **fields):
    data = {
        "name": "Filtered run",
        "source": "upload",
        "exp0-sample": "A",
        "files": [SimpleUploadedFile("filtered.csv", b"a,b\n1,2\n")],
        **fields,
    }
    return client.post(reverse("catalog:upload", args=[form.pk]), data)


def test_the_plain_form_takes_ids_and_derives(client_for, form, sources) -> None:
    response = _page_post(
        client_for("member"), form, derived_from=f"{sources[0].pk} {sources[1].pk}",
        layer="processed",
    )  # fmt: skip
    assert response.status_code == 302
    dataset = Dataset.objects.get(name="Filtered run")
    assert dataset.layer == Layer.PROCESSED
    assert set(ProvenanceEvent.objects.get(dataset=dataset).used.all()) == set(sources)


def test_the_plain_form_shows_a_refusal_and_stores_nothing(client_for, form, sources) -> None:
    before = _stored()
    missing = uuid.uuid4()
    response = _page_post(client_for("member"), form, derived_from=str(missing), layer="processed")
    assert response.status_code == 400
    assert f"No dataset has the id {missing}." in response.content.decode()
    assert _stored() == before


# --- bad input: message, status, nothing stored ------------------------------------


def _refused(client, form, status: int, **kwargs) -> list[str]:
    before = _stored()
    response = _start(client, form, **kwargs)
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert _stored() == before
    return response.json()["errors"]


def test_a_source_that_does_not_exist_is_refused(client_for, form, sources) -> None:
    missing = uuid.uuid4()
    errors = _refused(client_for("member"), form, 400, derived_from=[sources[0].pk, missing])
    assert errors == [f"No dataset has the id {missing}."]


@pytest.mark.parametrize("status", [DatasetStatus.UPLOADING, DatasetStatus.FAILED, "deleted"])
def test_a_source_that_is_not_ready_is_refused(client_for, form, member, status) -> None:
    source = DatasetFactory(owner=member, name="Half run")
    Dataset.objects.filter(pk=source.pk).update(status=status)
    errors = _refused(client_for("member"), form, 400, derived_from=[source.pk])
    assert errors == [
        f"'Half run' ({source.pk}) is {status}: only ready datasets can be derived from."
    ]


def test_a_user_who_may_not_read_datasets_cannot_derive(
    client, django_user_model, form, sources
) -> None:
    # Allowed to upload, not to read: an account an admin set up by hand.
    user = django_user_model.objects.create_user(username="u", email="u@lab.example")
    user.user_permissions.add(Permission.objects.get(codename="add_dataset"))
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    errors = _refused(client, form, 403, derived_from=[sources[0].pk])
    assert errors == ["You may not read datasets, so you cannot derive from them."]


def test_too_many_sources_are_refused(client_for, form, sources) -> None:
    ids = [uuid.uuid4() for _ in range(MAX_DERIVED_FROM + 1)]
    errors = _refused(client_for("member"), form, 400, derived_from=ids)
    assert errors == ["A dataset can be derived from at most 50 datasets; 51 were given."]


def test_a_huge_list_of_ids_is_refused_before_it_is_split(client_for, form) -> None:
    errors = _refused(client_for("member"), form, 400, derived_from=["x" * 5000])
    assert errors == ["Derived from: List at most 50 datasets (4,000 characters)."]


def test_deriving_into_raw_is_refused(client_for, form, sources) -> None:
    errors = _refused(client_for("member"), form, 400, derived_from=[sources[0].pk], layer="raw")
    assert errors == [
        "A derived dataset goes into processed or curated, never raw: raw holds original data only."
    ]


def test_original_data_into_processed_is_refused(client_for, form) -> None:
    errors = _refused(client_for("member"), form, 400, derived_from=[], layer="processed")
    assert errors == [
        "Only a derived dataset goes into processed: choose the datasets it is derived from, "
        "or upload original data into raw."
    ]


def test_a_member_asking_for_curated_is_refused(client_for, form, sources) -> None:
    errors = _refused(
        client_for("member"), form, 403, derived_from=[sources[0].pk], layer="curated"
    )
    assert errors == [
        "Only curators can put a dataset into curated; lab members derive into processed."
    ]


def test_malformed_ids_are_each_named(client_for, form, sources) -> None:
    errors = _refused(
        client_for("member"), form, 400,
        derived_from=[sources[0].pk, "12345", "<script>", "ab\u202ecd"],
    )  # fmt: skip
    assert errors == [
        "'12345' is not a dataset id.",
        "'<script>' is not a dataset id.",
        "'ab\\u202ecd' is not a dataset id.",
    ]


def test_an_unknown_layer_is_refused(client_for, form, sources) -> None:
    errors = _refused(
        client_for("member"), form, 400, derived_from=[sources[0].pk], layer="archive"
    )
    assert errors == ["Layer: Select a valid choice. archive is not one of the available choices."]


# --- permissions per role -----------------------------------------------------------

PROCESSED = {"anonymous": 302, "viewer": 403, "member": 201, "curator": 201, "admin": 201}
CURATED = {"anonymous": 302, "viewer": 403, "member": 403, "curator": 201, "admin": 201}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("layer, expected", [("processed", PROCESSED), ("curated", CURATED)])
def test_derived_start_per_role(client_for, form, sources, role, layer, expected) -> None:
    before = _stored()
    response = _start(client_for(role), form, derived_from=[sources[0].pk], layer=layer)
    assert response.status_code == expected[role]
    if expected[role] == 201:
        dataset = Dataset.objects.get(pk=response.json()["upload"])
        assert dataset.layer == layer
        assert DerivationSource.objects.get(dataset=dataset).source == sources[0]
    else:
        assert _stored() == before


@pytest.mark.parametrize("role", ROLES)
def test_upload_page_shows_the_picker_per_role(client_for, form, role: str) -> None:
    response = client_for(role).get(reverse("catalog:upload", args=[form.pk]))
    assert response.status_code == {"anonymous": 302, "viewer": 403}.get(role, 200)
    if response.status_code == 200:
        page = response.content.decode()
        assert 'name="derived_from"' in page and 'name="layer"' in page
        assert 'data-search-url="/api/datasets/"' in page
