"""Whether an archived dataset's files read now, for its page and its downloads."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from lakeweb.errors import ActionRefused

from ..models import ColdRestore, ColdRestoreState, DataFile, Dataset, DatasetStatus
from ..models.coldtier import LIVE_STATES


@dataclass(frozen=True)
class ColdState:
    """A cold dataset's state: its class, the restore under way or done, what may be done."""

    storage_class: str
    restore: ColdRestore | None
    readable: bool
    may_request: bool


class ColdRefused(ActionRefused):
    """A read of a cold dataset's file before a restore made it readable: 409."""


def restore_permitted(*, dataset: Dataset, user: Any) -> bool:
    """Curators may restore any cold dataset, members their own."""
    if user.has_perm("catalog.promote_onward"):
        return True
    return bool(user.has_perm("catalog.add_dataset") and dataset.owner_id == user.pk)


def dataset_cold_state(*, dataset: Dataset, user: Any = None) -> ColdState | None:
    """None for a dataset whose files read as they are; else its cold state (one query)."""
    if not dataset.storage_class:
        return None
    restore = (
        ColdRestore.objects.filter(dataset=dataset, state__in=LIVE_STATES)
        .select_related("job")
        .first()
    )
    readable = bool(
        restore is not None
        and restore.state == ColdRestoreState.READY
        and (restore.expires_at is None or restore.expires_at > timezone.now())
    )
    may_request = bool(
        restore is None
        and user is not None
        and user.is_authenticated
        and restore_permitted(dataset=dataset, user=user)
    )
    return ColdState(dataset.storage_class, restore, readable, may_request)


def dataset_readable_check(*, dataset: Dataset) -> None:
    """Raise ColdRefused, saying what to do, when the dataset's files cannot be read now."""
    state = dataset_cold_state(dataset=dataset)
    if state is None or state.readable:
        return
    if state.restore is not None:
        raise ColdRefused(
            f"This dataset is in the archive's cold storage ({state.storage_class}); a restore "
            f"is under way ({state.restore.files_ready} of {state.restore.files_total} files "
            "readable). Its files can be read once every one is; the requester gets an email."
        )
    raise ColdRefused(
        f"This dataset is in the archive's cold storage ({state.storage_class}): its files "
        "cannot be downloaded, zipped or previewed until they are restored. Use Request "
        "restore on its page (curators, and members for their own datasets)."
    )


def readable_copies(*, sha256s: Collection[str]) -> dict[str, dict[str, Any]]:
    """For each SHA-256 the lake holds outside the cold tier, one ready file with those bytes.

    Each as ``{"layer", "storage_key", "version_id"}``: what a copy reads
    instead of a cold file (one query).
    """
    rows = DataFile.objects.filter(
        sha256__in=list(sha256s), dataset__status=DatasetStatus.READY, dataset__storage_class=""
    ).values("sha256", "storage_key", "version_id", "dataset__layer")
    return {
        row["sha256"]: {
            "layer": row["dataset__layer"],
            "storage_key": row["storage_key"],
            "version_id": row["version_id"],
        }
        for row in rows
    }
