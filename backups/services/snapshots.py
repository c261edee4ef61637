"""Reading snapshots back from the backup store: which are complete, and what they hold."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from lakeweb.errors import BadInput, NotFound
from lakeweb.storage import StorageError
from lakeweb.storage.backupstore import backup_store

from .snapshot import CATALOG, MANIFEST

# "<kind>/<label>", as the page and `manage.py restore` name a snapshot.
NAME = re.compile(r"^(daily|weekly|manual)/[0-9A-Za-z][0-9A-Za-z.:_-]{0,80}$")
ROOT = "snapshots/"


class SnapshotIncomplete(NotFound):
    """A snapshot without manifest.json: its writer died; it is not restorable."""


@dataclass(frozen=True)
class Snapshot:
    name: str
    manifest: dict[str, Any]

    @property
    def prefix(self) -> str:
        return f"{ROOT}{self.name}/"

    def dataset(self, dataset_id: str) -> dict[str, Any] | None:
        return next((d for d in self.manifest["datasets"] if d["id"] == dataset_id), None)


def snapshot_name(prefix: str) -> str:
    """``snapshots/<kind>/<label>/`` -> ``<kind>/<label>``."""
    return prefix.removeprefix(ROOT).strip("/")


def snapshot_name_clean(name: str) -> str:
    """The name as given (a prefix is accepted), or BadInput saying what a name looks like."""
    name = snapshot_name(name.strip()[:200])
    if not NAME.match(name):
        raise BadInput(
            f"{name[:100]!r} is not a snapshot name: one looks like "
            "manual/2026-12-01T020000.000000Z-1a2b3c4d (kind/label), as the backups page "
            "lists them."
        )
    return name


def snapshot_open(name: str) -> Snapshot:
    """A complete snapshot by name; NotFound if absent, SnapshotIncomplete without a manifest."""
    name = snapshot_name_clean(name)
    store = backup_store()
    prefix = f"{ROOT}{name}/"
    if not store.exists(prefix + MANIFEST):
        if next(iter(store.list_keys(prefix)), None) is None:
            raise NotFound(f"There is no snapshot {name} in the backup store.")
        raise SnapshotIncomplete(
            f"Snapshot {name} is incomplete (it has no manifest.json: its writer stopped "
            "before the end) and cannot be restored. Restore another snapshot."
        )
    with store.open(prefix + MANIFEST) as stream:
        return Snapshot(name=name, manifest=json.load(stream))


def snapshot_catalog(snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot's catalog, checked against the SHA-256 its manifest gives."""
    with backup_store().open(snapshot.prefix + CATALOG) as stream:
        data = stream.read()
    if hashlib.sha256(data).hexdigest() != snapshot.manifest["catalog"]["sha256"]:
        raise StorageError(f"catalog.json of snapshot {snapshot.name} is not what was written")
    return json.loads(data)


def snapshots_restorable() -> list[str]:
    """Names of the complete snapshots in the store, newest last."""
    suffix = "/" + MANIFEST
    keys = backup_store().list_keys(ROOT)
    return sorted(snapshot_name(key.removesuffix(MANIFEST)) for key in keys if key.endswith(suffix))


def snapshots_naming(sha256s: set[str]) -> dict[str, list[str]]:
    """For each SHA-256, the complete snapshots whose manifest names its blob, oldest first.

    Reads every complete snapshot's manifest: for the rare case of a damaged blob.
    """
    found: dict[str, list[str]] = {}
    store = backup_store()
    for name in snapshots_restorable():
        with store.open(f"{ROOT}{name}/{MANIFEST}") as stream:
            manifest = json.load(stream)
        named = {f["sha256"] for d in manifest["datasets"] for f in d["files"]} & sha256s
        for sha in named:
            found.setdefault(sha, []).append(name)
    return found
