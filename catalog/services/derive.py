"""Derived uploads: files uploaded with "derived from" links to ready datasets (SPEC §2).

A derived dataset goes into processed (members) or curated (curators), never
raw; an upload derived from nothing stays in raw. The sources are checked
before anything is stored (``derivation_sources_check``), kept beside the
unfinished upload with the manifest digest each had then
(``derivation_sources_keep``, so a resumed upload keeps them), and recorded
as one ``derivation`` provenance event when the dataset is sealed
(``derivation_record``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from lakeweb.errors import PermissionRefused

from ..models import Activity, Dataset, DatasetStatus, DerivationSource, Layer, ProvenanceEvent
from .events import provenance_record
from .origins import shown
from .paths import MAX_PROBLEMS_SHOWN

MAX_DERIVED_FROM = 50
DERIVED_LAYERS = (Layer.PROCESSED, Layer.CURATED)
# A UUID with or without hyphens and braces is at most 38 characters; longer is no id.
ID_CHARS_MAX = 40
LAYER_PERMISSION: dict[str, str] = {
    Layer.PROCESSED: "catalog.add_dataset",
    Layer.CURATED: "catalog.promote_onward",
}
CURATED_REFUSED = "Only curators can put a dataset into curated; lab members derive into processed."
UNREADABLE = "You may not read datasets, so you cannot derive from them."


def derivation_sources_check(*, user: User, ids: Sequence[str], layer: str) -> list[Dataset]:
    """The ready datasets ``ids`` name, checked for a new dataset in ``layer``; [] for raw.

    Refusals, before anything is stored: a layer that does not fit (derived
    into raw, or into processed/curated from nothing) and more than
    ``MAX_DERIVED_FROM`` sources are a ValidationError (400), as are ids that
    are malformed, name no dataset, or a dataset that is not ready (all of
    these listed at once); curated for a non-curator, or a user who may not
    read datasets, a PermissionRefused (403). One query for the datasets.
    """
    _layer_check(layer=layer, derived=bool(ids))
    if not ids:
        return []
    if len(ids) > MAX_DERIVED_FROM:
        raise ValidationError(
            f"A dataset can be derived from at most {MAX_DERIVED_FROM} datasets; "
            f"{len(ids)} were given."
        )
    if not user.has_perm(LAYER_PERMISSION[layer]):
        raise PermissionRefused(CURATED_REFUSED)
    if not user.has_perm("catalog.view_dataset"):
        raise PermissionRefused(UNREADABLE)
    wanted, problems = _parsed(ids)
    found = Dataset.objects.in_bulk(wanted)
    problems += _source_problems(wanted, found)
    if problems:
        raise ValidationError(problems[:MAX_PROBLEMS_SHOWN])
    return [found[pk] for pk in wanted]


def _layer_check(*, layer: str, derived: bool) -> None:
    if layer not in Layer.values:
        raise ValidationError(f"'{shown(str(layer)[:20])}' is not a layer.")
    if derived and layer not in DERIVED_LAYERS:
        raise ValidationError(
            f"A derived dataset goes into processed or curated, never {layer}: "
            "raw holds original data only."
        )
    if not derived and layer != Layer.RAW:
        raise ValidationError(
            f"Only a derived dataset goes into {layer}: choose the datasets it is derived "
            "from, or upload original data into raw."
        )


def _parsed(ids: Sequence[str]) -> tuple[list[uuid.UUID], list[str]]:
    """Each id as a UUID, in order and once; the malformed ones as problems."""
    wanted: list[uuid.UUID] = []
    problems = []
    for raw in ids:
        text = str(raw).strip()
        try:
            if len(text) > ID_CHARS_MAX:
                raise ValueError
            pk = uuid.UUID(text)
        except ValueError:
            problems.append(f"'{shown(text[:ID_CHARS_MAX])}' is not a dataset id.")
            continue
        if pk not in wanted:
            wanted.append(pk)
    return wanted, problems


def _source_problems(wanted: list[uuid.UUID], found: dict[Any, Dataset]) -> list[str]:
    problems = []
    for pk in wanted:
        source = found.get(pk)
        if source is None:
            problems.append(f"No dataset has the id {pk}.")
        elif source.status != DatasetStatus.READY:
            problems.append(
                f"'{source.name}' ({pk}) is {source.status}: only ready datasets can be "
                "derived from."
            )
    return problems


def derivation_sources_keep(*, dataset: Dataset, sources: Sequence[Dataset]) -> None:
    """Keep an unfinished upload's sources with the manifest digest each has now."""
    DerivationSource.objects.bulk_create(
        DerivationSource(dataset=dataset, source=source, manifest_digest=source.manifest_digest)
        for source in sources
    )


def derivation_sources_of(*, dataset: Dataset) -> list[dict[str, str]]:
    """An unfinished upload's sources: id, name, layer and the digest kept at its start."""
    rows = dataset.derivation_sources.select_related("source").order_by("id")
    return [
        {
            "dataset": str(row.source_id),
            "name": row.source.name,
            "layer": row.source.layer,
            "manifest_digest": row.manifest_digest,
        }
        for row in rows
    ]


def derivation_record(
    *, dataset: Dataset, actor: User | None, parameters: dict[str, Any]
) -> ProvenanceEvent | None:
    """The ``derivation`` event of a dataset being sealed, if it was derived; None if not.

    Every source is in ``used``, and the parameters list each with the
    manifest digest it had when the upload began. The upload's source rows go.
    """
    sources = derivation_sources_of(dataset=dataset)
    if not sources:
        return None
    event = provenance_record(
        activity=Activity.DERIVATION,
        actor=actor,
        dataset=dataset,
        used=Dataset.objects.filter(pk__in=[source["dataset"] for source in sources]),
        target_layer=dataset.layer,
        parameters={**parameters, "sources": sources},
    )
    dataset.derivation_sources.all().delete()
    return event
