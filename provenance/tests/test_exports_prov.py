"""The PROV-JSON export is read back by the ``prov`` package and says what the catalog holds."""

from __future__ import annotations

import io
import json

import prov
import pytest
from django.urls import reverse
from prov.model import ProvActivity, ProvDocument, ProvEntity

from catalog import services
from catalog.models import Activity, ProvenanceEvent
from catalog.tests.factories import promote_dataset, upload_dataset
from provenance.exports.prov import prov_document, prov_json

from .exports import PIPELINE, pipeline_output

pytestmark = pytest.mark.django_db


@pytest.fixture
def lab(member, curator):
    """raw -> processed -> curated by promotion; a pipeline output made from two raw datasets."""
    raw = upload_dataset(member, name="Run 1")
    other = upload_dataset(member, name="Run 2")
    processed = promote_dataset(raw, member)
    curated = promote_dataset(processed, curator)
    output = pipeline_output(member, [raw, other], {"signals.parquet": b"PAR1"})
    services.provenance_record(
        activity=Activity.NOTE, actor=curator, dataset=raw, note="Stain looked uneven"
    )
    return {
        "raw": raw,
        "other": other,
        "processed": processed,
        "curated": curated,
        "output": output,
    }


def served(client, dataset) -> str:
    response = client.get(reverse("provenance:dataset_prov_json", args=[dataset.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.content.decode()


def records(document: ProvDocument, kind: type) -> dict[str, object]:
    return {str(record.identifier): record for record in document.get_records(kind)}


def relations(document: ProvDocument, name: str) -> set[tuple[str, ...]]:
    data = json.loads(document.serialize(format="json"))
    keys = {
        "used": ("prov:activity", "prov:entity"),
        "wasGeneratedBy": ("prov:entity", "prov:activity"),
        "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity", "prov:activity"),
        "wasAssociatedWith": ("prov:activity", "prov:agent"),
    }[name]
    return {tuple(item.get(key) for key in keys) for item in data.get(name, {}).values()}


def test_export_round_trips_through_prov(client_for, lab) -> None:
    text = served(client_for("viewer"), lab["raw"])

    document = prov.read(io.StringIO(text), format="json")
    assert document == ProvDocument.deserialize(content=text, format="json")
    assert document == prov_document(dataset=lab["raw"])
    assert document.serialize(format="json", indent=1) == text  # serialised again: the same
    assert ProvDocument.deserialize(content=document.get_provn(), format="provn") == document


def test_entities_and_activities_are_the_catalogs(client_for, lab) -> None:
    document = prov.read(io.StringIO(served(client_for("viewer"), lab["raw"])), format="json")

    # raw's descendants, not the other input of the run (no ancestor of raw's)
    lineage = [lab[name] for name in ("raw", "processed", "curated", "output")]
    entities = records(document, ProvEntity)
    assert set(entities) == {f"dataset:{item.pk}" for item in lineage}
    for item in lineage:
        attributes = {str(key): value for key, value in entities[f"dataset:{item.pk}"].attributes}
        assert attributes["prov:label"] == item.name
        assert attributes["lakeweb:layer"] == item.layer
    events = ProvenanceEvent.objects.filter(dataset__in=lineage)
    assert set(records(document, ProvActivity)) == {f"event:{event.pk}" for event in events}
    assert events.count() == 1 + 2 + 1 + 1  # raw's collection, two promotions, the run, the note


def test_pipeline_run_is_an_activity_with_its_parameters(lab) -> None:
    document = ProvDocument.deserialize(content=prov_json(dataset=lab["output"]), format="json")
    event = ProvenanceEvent.objects.get(activity=Activity.PIPELINE)
    activity = records(document, ProvActivity)[f"event:{event.pk}"]
    values = {str(key): value for key, value in activity.attributes}
    assert str(values["prov:type"]) == "lakeweb:pipeline"
    assert values["param:name"] == "csv-to-parquet" and values["param:version"] == "1.2.0"
    assert values["param:code_digest"] == PIPELINE["code_digest"]
    assert json.loads(values["param:params"].value) == PIPELINE["params"]
    assert str(values["param:params"].datatype) == "rdf:JSON"
    assert activity.get_startTime().isoformat() == PIPELINE["started_at"]
    assert activity.get_endTime() == event.occurred_at


def test_relations_follow_the_events(lab, member) -> None:
    raw, other, processed, output = lab["raw"], lab["other"], lab["processed"], lab["output"]
    document, of_output = prov_document(dataset=raw), prov_document(dataset=output)
    run = ProvenanceEvent.objects.get(activity=Activity.PIPELINE)
    promotion = ProvenanceEvent.objects.get(activity=Activity.PROMOTION, dataset=processed)
    note = ProvenanceEvent.objects.get(activity=Activity.NOTE)

    inputs = {(f"event:{run.pk}", f"dataset:{raw.pk}"), (f"event:{run.pk}", f"dataset:{other.pk}")}
    assert inputs <= relations(of_output, "used")
    used = relations(document, "used")
    assert (f"event:{run.pk}", f"dataset:{raw.pk}") in used
    assert (f"event:{note.pk}", f"dataset:{raw.pk}") in used  # a note looks at, never makes
    generated = relations(document, "wasGeneratedBy")
    assert (f"dataset:{output.pk}", f"event:{run.pk}") in generated
    assert (f"dataset:{processed.pk}", f"event:{promotion.pk}") in generated
    assert not any(activity == f"event:{note.pk}" for _entity, activity in generated)
    derived = relations(document, "wasDerivedFrom")
    assert (f"dataset:{output.pk}", f"dataset:{raw.pk}", f"event:{run.pk}") in derived
    from_other = (f"dataset:{output.pk}", f"dataset:{other.pk}", f"event:{run.pk}")
    assert from_other in relations(of_output, "wasDerivedFrom")
    assert (f"dataset:{processed.pk}", f"dataset:{raw.pk}", f"event:{promotion.pk}") in derived
    associated = relations(document, "wasAssociatedWith")
    assert (f"event:{run.pk}", f"agent:user-{member.pk}") in associated


def test_numbers_and_nested_values_keep_their_types(lab) -> None:
    event = ProvenanceEvent.objects.get(activity=Activity.PIPELINE)
    document = ProvDocument.deserialize(content=prov_json(dataset=lab["output"]), format="json")
    collection = ProvenanceEvent.objects.get(activity=Activity.COLLECTION, dataset=lab["raw"])
    activity = records(document, ProvActivity)[f"event:{collection.pk}"]
    values = {str(key): value for key, value in activity.attributes}
    assert int(values["param:files"].value) == collection.parameters["files"]
    assert str(values["param:files"].datatype) == "xsd:long"  # xsd:int would overflow at 2 GiB
    assert values["param:via"] == "upload"
    assert event.parameters["params"]["limit"] == 5_000_000_000
