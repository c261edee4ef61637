"""A dataset as an RO-Crate 1.1 zip (https://w3id.org/ro/crate/1.1), streamed.

The zip holds ``ro-crate-metadata.json`` at its top and the dataset's files
under ``data/`` (a file of the dataset named ``ro-crate-metadata.json``
cannot then shadow the crate's own). The metadata is written as it is sent,
from the file rows in batches, so it costs constant memory whatever the
number of files. A dataset that a process made from other datasets (a
pipeline run, a derivation: a provenance event with ``used`` datasets) also
follows the Process Run Crate profile (https://w3id.org/ro/wfrun/process/0.5):
a ``CreateAction`` whose ``instrument`` is the software, ``object`` the
inputs and parameters, and ``result`` this dataset.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from catalog.models import Activity, Dataset, DatasetStatus, ProvenanceEvent
from catalog.selectors.archive import ZipMember, dataset_date_time, dataset_zip_members, zip_stream

from .metadata import export_settings, metadata_items, person_name
from .streams import GeneratedFile, as_stream

CRATE_SPEC = "https://w3id.org/ro/crate/1.1"
PROCESS_PROFILE = "https://w3id.org/ro/wfrun/process/0.5"
# RO-Crate 1.1's context has no sha256 term (1.2 adds schema.org's).
CONTEXT = [f"{CRATE_SPEC}/context", {"sha256": "http://schema.org/sha256"}]
METADATA_FILE = "ro-crate-metadata.json"
PAYLOAD = "data/"
ROWS_PER_BATCH = 500
# A promotion copies; the others only look at a dataset: none of them is a process run.
NOT_A_PROCESS = (Activity.PROMOTION, Activity.NOTE, Activity.VERIFICATION, Activity.BACKUP)


def dataset_crate(*, dataset: Dataset) -> Iterator[bytes]:
    """The dataset as an RO-Crate zip, made while it is sent; only for a ready dataset.

    Every file is checked against its recorded size and SHA-256 as it is
    read: a mismatch raises ``ChecksumMismatch`` and the download breaks off.
    """
    if dataset.status != DatasetStatus.READY:
        raise ValueError("only a ready dataset can be exported")
    return zip_stream(_members(dataset))


def process_event(*, dataset: Dataset) -> ProvenanceEvent | None:
    """The event that made the dataset from others (pipeline run, derivation), if any."""
    events = (
        dataset.provenance_events.exclude(activity__in=NOT_A_PROCESS)
        .filter(used__isnull=False)
        .distinct()
        .order_by("occurred_at")
        .prefetch_related("used")
    )
    return events.first()


def crate_metadata(*, dataset: Dataset) -> Iterator[str]:
    """``ro-crate-metadata.json`` in pieces: the head entities, then one piece per file."""
    event = process_event(dataset=dataset)
    head = _head_entities(dataset, event)
    root = head.pop(0)
    yield json.dumps({"@context": CONTEXT})[:-1] + ', "@graph": [\n'
    yield _dump(_descriptor()) + ",\n"
    yield _dump(root)[:-1] + ', "hasPart": ['
    for index, (path, *_rest) in enumerate(_rows(dataset)):
        yield ("" if index == 0 else ", ") + _dump({"@id": _file_id(path)})
    yield "]}"
    for entity in head:
        yield ",\n" + _dump(entity)
    for path, size, sha256, content_type, _key in _rows(dataset):
        yield ",\n" + _dump(_file_entity(path, size, sha256, content_type))
    yield "\n]}\n"


def _members(dataset: Dataset) -> Iterator[ZipMember]:
    date_time = dataset_date_time(dataset)
    # Announced, not exact: zipfile only needs to know whether zip64 is due.
    estimate = 4096 + dataset.file_count * 4096
    yield ZipMember(
        METADATA_FILE,
        estimate,
        date_time,
        lambda: as_stream(GeneratedFile(crate_metadata(dataset=dataset))),
    )
    yield from dataset_zip_members(dataset=dataset, prefix=PAYLOAD, found_by="RO-Crate")


def _rows(dataset: Dataset) -> Iterator[tuple[str, int, str, str, str]]:
    rows = dataset.files.order_by("path").values_list(
        "path", "size", "sha256", "content_type", "storage_key"
    )
    yield from rows.iterator(chunk_size=ROWS_PER_BATCH)


def _dump(entity: dict[str, Any]) -> str:
    return json.dumps(entity, ensure_ascii=False)


def _file_id(path: str) -> str:
    # A relative URI: spaces, "%", "#" and non-ASCII percent-encoded (RO-Crate 1.1 §Data entities).
    return quote(PAYLOAD + path, safe="/")


def _file_entity(path: str, size: int, sha256: str, content_type: str) -> dict[str, Any]:
    guessed = content_type or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return {
        "@id": _file_id(path),
        "@type": "File",
        "name": path.rsplit("/", 1)[-1],
        "contentSize": str(size),
        "sha256": sha256,
        "encodingFormat": guessed,
    }


def _descriptor() -> dict[str, Any]:
    return {
        "@id": METADATA_FILE,
        "@type": "CreativeWork",
        "conformsTo": {"@id": CRATE_SPEC},
        "about": {"@id": "./"},
    }


def _head_entities(dataset: Dataset, event: ProvenanceEvent | None) -> list[dict[str, Any]]:
    """The root (first, without hasPart) and every contextual entity."""
    owner = {
        "@id": f"#person-{dataset.owner_id}",
        "@type": "Person",
        "name": person_name(dataset.owner),
    }
    license_entity = _license(dataset)
    properties = _properties(dataset)
    root = _root(dataset, owner, license_entity, properties)
    entities = [root, owner, license_entity, *properties]
    organization = export_settings().organization
    if organization:
        root["publisher"] = {"@id": "#organization"}
        entities.append({"@id": "#organization", "@type": "Organization", "name": organization})
    if event is not None:
        entities += _process(root, dataset, event)
    return entities


def _root(
    dataset: Dataset,
    owner: dict[str, Any],
    license_entity: dict[str, Any],
    properties: list[dict[str, Any]],
) -> dict[str, Any]:
    identifiers = [
        f"urn:uuid:{dataset.pk}",
        *([dataset.external_id] if dataset.external_id else []),
    ]
    return {
        "@id": "./",
        "@type": "Dataset",
        "name": dataset.name,
        "description": dataset.description
        or f"{dataset.name}: {dataset.file_count} files in the {dataset.layer} layer of lakeweb.",
        "identifier": identifiers,
        "dateCreated": dataset.created_at.isoformat(),
        "datePublished": (dataset.sealed_at or dataset.created_at).isoformat(),
        "license": {"@id": license_entity["@id"]},
        "author": {"@id": owner["@id"]},
        "keywords": [tag.name for tag in dataset.tags.all()],
        "contentSize": str(dataset.total_size),
        "additionalProperty": [{"@id": item["@id"]} for item in properties],
    }


def _license(dataset: Dataset) -> dict[str, Any]:
    """The dataset's ``license`` metadata value, else the lake's, else an honest "not stated"."""
    given = dataset.metadata.get("license") if isinstance(dataset.metadata, dict) else None
    value = str(given or export_settings().license or "")
    if value.startswith(("http://", "https://")):
        return {"@id": value, "@type": "CreativeWork", "name": value}
    if value:
        return {"@id": "#license", "@type": "CreativeWork", "name": value}
    return {
        "@id": "#license",
        "@type": "CreativeWork",
        "name": "Not stated",
        "description": "No license was recorded for this dataset; ask its owner before reuse.",
    }


def _properties(dataset: Dataset) -> list[dict[str, Any]]:
    return [
        {
            "@id": "#metadata-" + quote(item.key, safe=""),
            "@type": "PropertyValue",
            "propertyID": item.field,
            "name": item.label,
            "value": item.value,
        }
        for item in metadata_items(dataset)
    ]


def _process(
    root: dict[str, Any], dataset: Dataset, event: ProvenanceEvent
) -> list[dict[str, Any]]:
    """The Process Run Crate entities of the event that made the dataset; links the root to them."""
    parameters = event.parameters if isinstance(event.parameters, dict) else {}
    software = _software(event, parameters)
    inputs = [_input(item) for item in sorted(event.used.all(), key=lambda item: str(item.pk))]
    values = _parameter_values(event, parameters)
    action = {
        "@id": f"#run-{event.pk}",
        "@type": "CreateAction",
        "name": f"{event.get_activity_display()} {software['name']}",
        "instrument": {"@id": software["@id"]},
        "object": [{"@id": item["@id"]} for item in [*inputs, *values]],
        "result": [{"@id": "./"}],
        "startTime": _start(event, parameters),
        "endTime": event.occurred_at.isoformat(),
        "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"},
    }
    if event.actor_id is not None:
        action["agent"] = {"@id": f"#person-{event.actor_id}"}
    profile = {
        "@id": PROCESS_PROFILE,
        "@type": "CreativeWork",
        "name": "Process Run Crate",
        "version": "0.5",
    }
    root["conformsTo"] = [{"@id": PROCESS_PROFILE}]
    root["mentions"] = [{"@id": action["@id"]}]
    extra = [action, software, profile, *inputs, *values]
    if (
        event.actor_id is not None
        and event.actor_id != dataset.owner_id
        and event.actor is not None
    ):
        extra.append(
            {
                "@id": f"#person-{event.actor_id}",
                "@type": "Person",
                "name": person_name(event.actor),
            }
        )
    return extra


def _software(event: ProvenanceEvent, parameters: dict[str, Any]) -> dict[str, Any]:
    name = str(parameters.get("name") or parameters.get("pipeline") or f"lakeweb {event.activity}")
    version = str(parameters.get("version") or "")
    software: dict[str, Any] = {
        "@id": "#software-" + quote(f"{name}-{version}" if version else name, safe=""),
        "@type": "SoftwareApplication",
        "name": name,
    }
    if version:
        software["softwareVersion"] = version
        software["version"] = version
    if parameters.get("code_digest"):
        software["identifier"] = f"sha256:{parameters['code_digest']}"
    return software


def _input(dataset: Dataset) -> dict[str, Any]:
    # A local "#" id: an input is described, not carried, and RO-Crate wants
    # every other Dataset entity to be part of the crate (hasPart).
    identifiers = [f"urn:uuid:{dataset.pk}"]
    if dataset.manifest_digest:
        identifiers.append(f"sha256:{dataset.manifest_digest}")
    return {
        "@id": f"#dataset-{dataset.pk}",
        "@type": "Dataset",
        "name": dataset.name,
        "description": f"The lakeweb dataset {dataset.pk} in the {dataset.layer} layer, "
        "with the manifest SHA-256 it had when this crate was made.",
        "identifier": identifiers,
    }


# Parameters that describe the run itself, not the values it was given.
RUN_KEYS = frozenset({"name", "pipeline", "version", "code_digest", "started_at", "start_time"})


def _parameter_values(event: ProvenanceEvent, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    given = parameters.get("params")
    values = (
        given
        if isinstance(given, dict)
        else {
            key: value
            for key, value in parameters.items()
            if key not in RUN_KEYS and key != "params"
        }
    )
    return [
        {
            "@id": f"#run-{event.pk}-" + quote(str(key), safe=""),
            "@type": "PropertyValue",
            "name": str(key),
            "value": value if isinstance(value, (str, int, float, bool)) else json.dumps(value),
        }
        for key, value in sorted(values.items())
    ]


def _start(event: ProvenanceEvent, parameters: dict[str, Any]) -> str:
    for key in ("started_at", "start_time"):
        if isinstance(parameters.get(key), str):
            return str(parameters[key])
    return event.occurred_at.isoformat()
