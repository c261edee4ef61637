"""Reads of pipelines and their runs, for the pages and the API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.models import Dataset, DatasetStatus
from lakeweb.errors import NotFound

from ..models import PipelineRun
from .registry import Pipeline, pipelines_all


def pipelines_for(*, dataset: Dataset) -> list[Pipeline]:
    """The registered pipelines that read this dataset's layer."""
    return [spec for spec in pipelines_all() if dataset.layer in spec.reads]


def pipeline_run_get(*, pk: Any) -> PipelineRun:
    """A run with its job and output (one query); NotFound (404) if there is none."""
    run = (
        PipelineRun.objects.select_related("job", "output", "requested_by", "reproduces__output")
        .filter(pk=pk)
        .first()
    )
    if run is None:
        raise NotFound("No pipeline run with this id.")
    return run


def pipeline_runs_of(*, dataset: Dataset, limit: int = 20) -> list[PipelineRun]:
    """The newest runs that read this dataset or made it."""
    runs = PipelineRun.objects.select_related("job", "output")
    used = runs.filter(input_datasets=dataset)
    return list((used | runs.filter(output=dataset)).distinct().order_by("-created_at")[:limit])


@dataclass(frozen=True)
class Reproduction:
    """How a run again compares with the run it repeats."""

    original: PipelineRun
    original_digest: str
    new_digest: str

    @property
    def same(self) -> bool:
        return bool(self.new_digest) and self.new_digest == self.original_digest


def run_reproduction(*, run: PipelineRun) -> Reproduction | None:
    """For a run again that made its dataset: the two manifest digests; else None."""
    original = run.reproduces
    if original is None or run.output is None or run.output.status != DatasetStatus.READY:
        return None
    before = original.output.manifest_digest if original.output is not None else ""
    return Reproduction(original, before, run.output.manifest_digest)
