"""What both archive exports say about a dataset beyond its files: metadata, people, settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from catalog.models import Dataset


@dataclass(frozen=True)
class ExportSettings:
    organization: str
    license: str


@dataclass(frozen=True)
class MetadataItem:
    """One metadata value: ``key`` is unique in the dataset, ``label`` says which experiment."""

    key: str
    field: str
    label: str
    value: Any

    @property
    def text(self) -> str:
        """The value on one line of text (lists joined, objects as JSON)."""
        if isinstance(self.value, list) and all(isinstance(v, str) for v in self.value):
            return ", ".join(self.value)
        if isinstance(self.value, str):
            return self.value
        return json.dumps(self.value, ensure_ascii=False)


def export_settings() -> ExportSettings:
    """EXPORT_ORGANIZATION and EXPORT_LICENSE (README "Configuration")."""
    return ExportSettings(
        organization=str(getattr(settings, "EXPORT_ORGANIZATION", "") or ""),
        license=str(getattr(settings, "EXPORT_LICENSE", "") or ""),
    )


def person_name(user: Any) -> str:
    """A user's full name, else their username: no email address leaves in an export."""
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return str(full or getattr(user, "username", "") or "unknown")


def metadata_items(dataset: Dataset) -> list[MetadataItem]:
    """The dataset's metadata, the upload's own keys first, then each experiment's form values."""
    metadata = dataset.metadata if isinstance(dataset.metadata, dict) else {}
    items = [
        MetadataItem(key=str(key), field=str(key), label=str(key), value=value)
        for key, value in metadata.items()
        if key != "experiments" and value not in (None, "")
    ]
    experiments = metadata.get("experiments")
    experiments = experiments if isinstance(experiments, list) else []
    several = len(experiments) > 1
    for number, experiment in enumerate(experiments, start=1):
        if not isinstance(experiment, dict):
            continue
        for field, value in experiment.items():
            if value in (None, "", []):
                continue
            key = f"experiment-{number}-{field}" if several else f"experiment-{field}"
            label = f"experiment {number}: {field}" if several else str(field)
            items.append(MetadataItem(key=key, field=str(field), label=label, value=value))
    return items
