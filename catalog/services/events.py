"""Writes to the provenance record (``ProvenanceEvent``): only ever appends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User

from ..models import Dataset, ProvenanceEvent


def provenance_record(
    *,
    activity: str,
    actor: User | None,
    dataset: Dataset | None = None,
    used: Iterable[Dataset] = (),
    source_layer: str = "",
    target_layer: str = "",
    parameters: dict[str, Any] | None = None,
    note: str = "",
) -> ProvenanceEvent:
    """Append one provenance event; ``used`` are the source datasets."""
    event = ProvenanceEvent.objects.create(
        activity=activity,
        actor=actor,
        actor_label=_actor_label(actor),
        dataset=dataset,
        source_layer=source_layer,
        target_layer=target_layer,
        parameters=parameters or {},
        note=note,
    )
    used = list(used)
    if used:
        event.used.set(used)
    return event


def _actor_label(actor: User | None) -> str:
    if actor is None:
        return "lakeweb (scheduled)"
    return getattr(actor, "email", "") or actor.get_username()
