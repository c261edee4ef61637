"""Asking for a pipeline run, and for the same run again (SPEC §2, Derivation; issue 13).

Every check happens here, before anything is stored: the role, the pipeline,
the layers it reads and writes, each input (exists, ready, in a layer the
pipeline reads), the parameters. Then the run and its job are written in one
transaction; the job (the outbox) goes to the ``pipelines`` queue after commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Dataset, DatasetStatus, Layer
from lakeweb.access import can_browse
from lakeweb.errors import ActionRefused, BadInput, PermissionRefused
from lakeweb.jobs.services import job_request

from ..models import PipelineRun
from .parameters import parameters_clean
from .registry import Pipeline, pipeline_get, pipelines_all

MAX_INPUTS = 20
RUN_KIND = "pipeline_run"


def _permission_check(user: User, target_layer: str) -> None:
    if not user.has_perm("provenance.run_pipeline"):
        raise PermissionRefused("Only lab members can run pipelines.")
    if target_layer == Layer.CURATED and not user.has_perm("provenance.run_pipeline_curated"):
        raise PermissionRefused("Only curators can run pipelines onto curated.")


def pipeline_find(name: Any) -> Pipeline:
    """The registered pipeline called ``name``; BadInput naming the registered ones if none."""
    try:
        return pipeline_get(str(name))
    except LookupError:
        known = ", ".join(spec.name for spec in pipelines_all()) or "none"
        raise BadInput(f"There is no pipeline '{str(name)[:100]}'; registered: {known}.") from None


def _target_layer(spec: Pipeline, target_layer: str | None) -> str:
    layer = target_layer or spec.writes[0]
    if layer not in spec.writes:
        raise BadInput(f"{spec.name} writes to {', '.join(spec.writes)}, not to '{layer[:20]}'.")
    return layer


def _input_ids(raw: Sequence[Any]) -> list[uuid.UUID]:
    if not raw or len(raw) > MAX_INPUTS:
        raise BadInput(f"Give 1 to {MAX_INPUTS} input datasets.")
    ids = []
    for item in raw:
        try:
            ids.append(uuid.UUID(str(item)[:40]))
        except ValueError:
            raise BadInput(f"'{str(item)[:40]}' is not a dataset id.") from None
    if len(set(ids)) != len(ids):
        raise BadInput("An input dataset is given twice.")
    return ids


def inputs_check(*, spec: Pipeline, ids: Sequence[Any], user: User) -> list[Dataset]:
    """The input datasets, in the order given; ValidationError lists each that cannot be used."""
    if not can_browse(user):
        raise PermissionRefused("You may not read datasets, so you cannot run pipelines on them.")
    wanted = _input_ids(ids)
    found = Dataset.objects.in_bulk(wanted)
    problems = []
    for pk in wanted:
        dataset = found.get(pk)
        if dataset is None:
            problems.append(f"There is no dataset {pk}.")
        elif dataset.status != DatasetStatus.READY:
            problems.append(
                f"'{dataset.name}' is {dataset.status}: only ready datasets can be used."
            )
        elif dataset.layer not in spec.reads:
            problems.append(
                f"'{dataset.name}' is in {dataset.layer}; {spec.name} reads "
                f"{', '.join(spec.reads)} only."
            )
    if problems:
        raise ValidationError(problems)
    return [found[pk] for pk in wanted]


def pipeline_run_request(
    *,
    user: User,
    pipeline: Any,
    inputs: Sequence[Any],
    parameters: Any = None,
    target_layer: str | None = None,
) -> PipelineRun:
    """Check everything, then queue a run of a registered pipeline on ready datasets."""
    spec = pipeline_find(pipeline)
    layer = _target_layer(spec, target_layer)
    _permission_check(user, layer)
    datasets = inputs_check(spec=spec, ids=inputs, user=user)
    cleaned = parameters_clean(spec=spec, values={} if parameters is None else parameters)
    return _run_create(spec=spec, user=user, datasets=datasets, parameters=cleaned, layer=layer)


def pipeline_run_again(*, run: PipelineRun, user: User) -> PipelineRun:
    """The same pipeline version, parameters and inputs, as a new run making a new dataset."""
    if not run.job.is_finished:
        raise ActionRefused("This run has not ended yet; run it again once it has.")
    spec = pipeline_find(run.pipeline_name)
    if spec.version != run.pipeline_version:
        raise ActionRefused(
            f"{spec.name} {run.pipeline_version} is no longer installed (now {spec.version}): "
            "the same run cannot be made again."
        )
    _permission_check(user, run.target_layer)
    datasets = inputs_check(spec=spec, ids=[item["id"] for item in run.inputs], user=user)
    for dataset, before in zip(datasets, run.inputs, strict=True):
        if dataset.manifest_digest != before["manifest_digest"]:
            raise ActionRefused(f"'{dataset.name}' is not what the first run read any more.")
    return _run_create(
        spec=spec,
        user=user,
        datasets=datasets,
        parameters=run.parameters,
        layer=run.target_layer,
        reproduces=run,
    )


def _run_create(
    *,
    spec: Pipeline,
    user: User,
    datasets: list[Dataset],
    parameters: dict[str, Any],
    layer: str,
    reproduces: PipelineRun | None = None,
) -> PipelineRun:
    run_id = uuid.uuid4()  # named in the job's parameters: the dataset page links the run
    with transaction.atomic():
        job = job_request(
            kind=RUN_KIND,
            requested_by=user,
            parameters={
                "run": str(run_id),
                "pipeline": spec.name,
                "version": spec.version,
                "target_layer": layer,
            },
            subject=datasets[0],
        )
        run = PipelineRun.objects.create(
            id=run_id,
            job=job,
            pipeline_name=spec.name,
            pipeline_version=spec.version,
            code_digest=spec.code_digest,
            parameters=parameters,
            # Captured now, before the run: what provenance says the run read.
            inputs=[
                {
                    "id": str(dataset.pk),
                    "name": dataset.name,
                    "layer": dataset.layer,
                    "manifest_digest": dataset.manifest_digest,
                }
                for dataset in datasets
            ],
            target_layer=layer,
            requested_by=user,
            reproduces=reproduces,
        )
        run.input_datasets.set(datasets)
    return run
