"""A dataset's lineage as a W3C PROV document, built with the ``prov`` library.

Every dataset of the lineage graph is a ``prov:Entity``; every recorded event
on them (collection, promotion, pipeline run, derivation, backup, restore,
verification, note, and any activity added later) is a ``prov:Activity``
with its parameters, associated with its actor (a ``prov:Agent``). An event
generates its dataset unless it only looked at it (a note, a verification, a
backup), and the datasets it used give ``used`` and ``wasDerivedFrom``.

Parameters become one attribute each in the ``param:`` namespace: strings,
numbers and booleans as typed literals, lists and objects as JSON text typed
``rdf:JSON`` (https://www.w3.org/TR/json-ld11/#the-rdf-json-datatype), so
that ``prov`` reads back exactly what was written.
"""

from __future__ import annotations

import datetime
import json
from typing import Any
from urllib.parse import quote

from django.db.models import Q
from prov.constants import PROV_LABEL, PROV_ROLE, PROV_TYPE, XSD_LONG
from prov.model import Literal, Namespace, ProvAgent, ProvDocument

from catalog.models import Activity, Dataset, ProvenanceEvent

from ..selectors import lineage_graph

LAKEWEB = Namespace("lakeweb", "urn:lakeweb:")
DATASET = Namespace("dataset", "urn:lakeweb:dataset:")
EVENT = Namespace("event", "urn:lakeweb:event:")
AGENT = Namespace("agent", "urn:lakeweb:agent:")
PARAM = Namespace("param", "urn:lakeweb:parameter:")
# Relations are named, so the document serialises the same after a round trip
# (prov numbers anonymous ones afresh each time it reads).
RELATION = Namespace("relation", "urn:lakeweb:relation:")
RDF = Namespace("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#")
PROV_NS = Namespace("prov", "http://www.w3.org/ns/prov#")

# Activities that act on an existing dataset rather than make it.
OBSERVING = frozenset({Activity.NOTE, Activity.VERIFICATION, Activity.BACKUP})
# Event parameters that say when a long activity began (a pipeline run's).
START_KEYS = ("started_at", "start_time", "startTime")


def prov_document(*, dataset: Dataset) -> ProvDocument:
    """The PROV document of the dataset's ancestors and descendants and of every event on them."""
    document = ProvDocument()
    for namespace in (LAKEWEB, DATASET, EVENT, AGENT, PARAM, RELATION, RDF):
        document.add_namespace(namespace)
    nodes = lineage_graph(dataset=dataset)["nodes"]
    for node in sorted(nodes, key=lambda item: str(item.pk)):
        _entity(document, node)
    ids = [node.pk for node in nodes]
    for event in _events(ids):
        _activity(document, event, set(ids))
    return document


def prov_json(*, dataset: Dataset) -> str:
    """The PROV document as PROV-JSON (https://www.w3.org/submissions/prov-json/)."""
    return str(prov_document(dataset=dataset).serialize(format="json", indent=1))


def _events(ids: list[Any]) -> Any:
    touching = Q(dataset_id__in=ids) | Q(used__in=ids)
    return (
        ProvenanceEvent.objects.filter(touching)
        .distinct()
        .order_by("occurred_at", "id")
        .prefetch_related("used")
    )


def _entity(document: ProvDocument, dataset: Dataset) -> None:
    document.entity(
        DATASET[str(dataset.pk)],
        {
            PROV_TYPE: LAKEWEB["Dataset"],
            PROV_LABEL: dataset.name,
            LAKEWEB["layer"]: dataset.layer,
            LAKEWEB["status"]: dataset.status,
        },
    )


def _activity(document: ProvDocument, event: ProvenanceEvent, ids: set[Any]) -> None:
    activity = document.activity(
        EVENT[str(event.pk)],
        _start(event),
        event.occurred_at,
        {PROV_TYPE: LAKEWEB[event.activity], **_parameters(event)},
    )
    name = str(event.pk)
    agent = _agent(document, event)
    document.wasAssociatedWith(activity, agent, identifier=RELATION[f"{name}-agent"])
    used = [item for item in event.used.all() if item.pk in ids]
    for item in used:
        document.used(
            activity, DATASET[str(item.pk)], identifier=RELATION[f"{name}-used-{item.pk}"]
        )
    if event.dataset_id is None or event.dataset_id not in ids:
        return
    target = DATASET[str(event.dataset_id)]
    if event.activity in OBSERVING:
        role = {PROV_ROLE: LAKEWEB["subject"]}
        document.used(
            activity, target, identifier=RELATION[f"{name}-subject"], other_attributes=role
        )
        return
    document.wasGeneratedBy(
        target, activity, event.occurred_at, identifier=RELATION[f"{name}-generated"]
    )
    for item in used:
        document.wasDerivedFrom(
            target, DATASET[str(item.pk)], activity, identifier=RELATION[f"{name}-from-{item.pk}"]
        )


def _start(event: ProvenanceEvent) -> datetime.datetime:
    for key in START_KEYS:
        value = event.parameters.get(key) if isinstance(event.parameters, dict) else None
        if isinstance(value, str):
            try:
                return datetime.datetime.fromisoformat(value)
            except ValueError:
                continue
    return event.occurred_at


def _agent(document: ProvDocument, event: ProvenanceEvent) -> ProvAgent:
    if event.actor_id is None:
        identifier = AGENT["lakeweb"]
        kind = PROV_NS["SoftwareAgent"]
    else:
        identifier = AGENT[f"user-{event.actor_id}"]
        kind = PROV_NS["Person"]
    return document.agent(identifier, {PROV_TYPE: kind, PROV_LABEL: event.actor_label})


def _parameters(event: ProvenanceEvent) -> dict[Any, Any]:
    attributes: dict[Any, Any] = {}
    if event.source_layer:
        attributes[LAKEWEB["sourceLayer"]] = event.source_layer
    if event.target_layer:
        attributes[LAKEWEB["targetLayer"]] = event.target_layer
    if event.note:
        attributes[LAKEWEB["note"]] = event.note
    parameters = (
        event.parameters if isinstance(event.parameters, dict) else {"value": event.parameters}
    )
    for key, value in sorted(parameters.items()):
        # Percent-encoding keeps any key a valid local name (PROV-N PN_LOCAL_ESC).
        attributes[PARAM[quote(str(key), safe="")]] = parameter_literal(value)
    return attributes


def parameter_literal(value: Any) -> Any:
    """A parameter as PROV reads it back unchanged: typed numbers, JSON text for the rest."""
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        # xsd:int, prov's default for int, is 32-bit: sizes in bytes overflow it.
        return Literal(str(value), XSD_LONG)
    if isinstance(value, float):
        return value
    return Literal(json.dumps(value, sort_keys=True, ensure_ascii=False), RDF["JSON"])
