"""RO-Crate downloads: read by rocrate, passed by roc-validator at REQUIRED, on both stores."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

import pytest
from django.urls import reverse
from rocrate.rocrate import ROCrate

from catalog.tests.factories import upload_dataset

from .exports import PIPELINE, download, issues, pipeline_output, unzip, validate_crate

pytestmark = pytest.mark.django_db

HOSTILE = {
    "README.md": b"# Plate 3\n",
    "plate 3/well A1.csv": b"t,signal\n0,1.5\n1,1.7\n",
    "plate 3/100% done #1.txt": b"percent and hash",
    "plate 3/métadonnées/échantillon µ.json": '{"température": "37 °C"}'.encode(),
    "plate 3/empty.log": b"",
    "ro-crate-metadata.json": b"not the crate's own",
}


def crate_of(client, dataset, tmp_path):
    data = download(client.get(reverse("provenance:dataset_ro_crate", args=[dataset.pk])))
    return unzip(data, tmp_path / "crate")


def test_crate_of_an_upload_is_read_and_valid(lake, client_for, member, tmp_path, offline_contexts):
    dataset = upload_dataset(member, files=HOSTILE, name="Plate 3")
    folder = crate_of(client_for("viewer"), dataset, tmp_path)

    crate = ROCrate(folder)
    assert crate.root_dataset["name"] == "Plate 3"
    files = {entity.id: entity for entity in crate.data_entities}
    assert set(files) == {quote("data/" + path) for path in HOSTILE}
    for path, data in HOSTILE.items():
        entity = files[quote("data/" + path)]
        assert entity["contentSize"] == str(len(data))
        assert entity["sha256"] == hashlib.sha256(data).hexdigest()
        assert (folder / "data" / path).read_bytes() == data
    assert json.loads((folder / "ro-crate-metadata.json").read_text())["@graph"][0]["about"] == {
        "@id": "./"
    }

    result = validate_crate(folder, "ro-crate-1.1")
    assert result.passed(), issues(result)
    assert offline_contexts  # the context was asked for, and served from the local copy


def test_crate_carries_the_metadata_as_property_values(client_for, member, tmp_path) -> None:
    dataset = upload_dataset(member)
    folder = crate_of(client_for("viewer"), dataset, tmp_path)
    graph = {
        e["@id"]: e for e in json.loads((folder / "ro-crate-metadata.json").read_text())["@graph"]
    }
    root = graph["./"]
    values = {
        graph[ref["@id"]]["propertyID"]: graph[ref["@id"]]["value"]
        for ref in root["additionalProperty"]
    }
    assert values["sample"] == "HeLa-1" and values["stain"] == "DAPI"
    assert graph[root["author"]["@id"]] == {
        "@id": f"#person-{member.pk}",
        "@type": "Person",
        "name": member.username,
    }
    assert graph[root["license"]["@id"]]["name"] == "Not stated"
    assert root["keywords"] == ["microscopy"]
    assert root["identifier"][0] == f"urn:uuid:{dataset.pk}"


def test_pipeline_output_is_a_valid_process_run_crate(
    lake, client_for, member, tmp_path, offline_contexts
):
    inputs = [upload_dataset(member, name="Run 1"), upload_dataset(member, name="Run 2")]
    files = {"signals.parquet": b"PAR1" + bytes(range(256)) + b"PAR1"}
    output = pipeline_output(member, inputs, files)
    folder = crate_of(client_for("viewer"), output, tmp_path)

    crate = ROCrate(folder)
    actions = [e for e in crate.contextual_entities if e.type == "CreateAction"]
    assert len(actions) == 1
    action = actions[0]
    assert action["instrument"]["name"] == "csv-to-parquet"
    assert action["instrument"]["softwareVersion"] == "1.2.0"
    objects = {item.id for item in action["object"]}
    assert {f"#dataset-{item.pk}" for item in inputs} <= objects
    for item in inputs:
        described = crate.get(f"#dataset-{item.pk}")
        assert described["identifier"] == [f"urn:uuid:{item.pk}", f"sha256:{item.manifest_digest}"]
    params = {
        item["name"]: item["value"] for item in action["object"] if item.type == "PropertyValue"
    }
    assert params == {"delimiter": ";", "columns": '["t", "signal"]', "limit": 5_000_000_000}
    assert [item.id for item in action["result"]] == ["./"]
    assert action["startTime"] == PIPELINE["started_at"]
    root = crate.root_dataset
    assert "https://w3id.org/ro/wfrun/process/0.5" in [p.id for p in root["conformsTo"]]

    result = validate_crate(folder, "process-run-crate")
    assert result.passed(), issues(result)


def test_the_validator_would_catch_a_crate_missing_a_file(
    client_for, member, tmp_path, offline_contexts
):
    """The check above can fail: a payload file taken out of the crate is reported."""
    dataset = upload_dataset(member, files=HOSTILE)
    folder = crate_of(client_for("viewer"), dataset, tmp_path)
    (folder / "data" / "plate 3" / "well A1.csv").unlink()
    result = validate_crate(folder, "ro-crate-1.1")
    assert not result.passed()
    assert any(quote("data/plate 3/well A1.csv") in line for line in issues(result)), issues(result)
