"""Download names of the exports, made from the zip download's."""

from __future__ import annotations

from catalog.models import Dataset
from catalog.selectors.archive import dataset_zip_filename


def export_filename(dataset: Dataset, kind: str) -> str:
    """``<name>-<layer>-<kind>.zip``, with the zip download's safe characters only."""
    return dataset_zip_filename(dataset=dataset).removesuffix(".zip") + f"-{kind}.zip"
