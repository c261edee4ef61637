"""Running a pipeline on a worker: the ``pipeline_run`` job's body and failure hook.

The callable writes into a staging folder of the run; once it returns, every
file is checked (a path with ``..`` or a link fails the run), streamed into
the target layer with its SHA-256, and the new dataset is sealed once, under
the job's lock, with its provenance event. A run that fails or is cancelled
leaves no dataset: what it stored is removed and its staging folder too.
"""

from __future__ import annotations

import importlib.metadata
import logging
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from catalog.models import Activity, Dataset, DatasetStatus
from catalog.services import (
    clean_paths,
    dataset_create,
    dataset_fail,
    dataset_file_store,
    dataset_seal,
    metadata_document,
    provenance_record,
)
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.runner import JobContext
from lakeweb.links import site_link

from ..models import PipelineRun
from .context import (
    InputDataset,
    InputFile,
    OutputWriter,
    PipelineContext,
    PipelineFailed,
    unsafe_path_reason,
)
from .registry import Pipeline, pipeline_get

logger = logging.getLogger(__name__)


def staging_dir(run: PipelineRun) -> Path:
    return Path(settings.PIPELINE_STAGING_DIR) / str(run.pk)


def software_versions(spec: Pipeline) -> dict[str, str]:
    """The versions that matter to what a run makes: Python, Django, the pipeline's libraries."""
    versions = {"python": platform.python_version(), "django": django.__version__}
    for name in spec.software:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _spec(run: PipelineRun) -> Pipeline:
    try:
        spec = pipeline_get(run.pipeline_name)
    except LookupError:
        raise PipelineFailed(f"{run.pipeline_name} is not registered on this worker") from None
    if spec.version != run.pipeline_version:
        raise PipelineFailed(
            f"this worker has {spec.name} {spec.version}, the run asked for {run.pipeline_version}"
        )
    return spec


def _inputs(run: PipelineRun) -> list[InputDataset]:
    """The inputs as captured when the run was asked for; a changed one fails the run."""
    rows = Dataset.objects.filter(pk__in=[item["id"] for item in run.inputs])
    datasets = {str(dataset.pk): dataset for dataset in rows}
    several = len(run.inputs) > 1
    found = []
    for item in run.inputs:
        dataset = datasets.get(item["id"])
        if dataset is None or dataset.status != DatasetStatus.READY:
            raise PipelineFailed(f"input '{item['name']}' is no longer a ready dataset")
        if dataset.manifest_digest != item["manifest_digest"]:
            raise PipelineFailed(f"input '{item['name']}' changed since the run was asked for")
        prefix = f"{dataset.pk}/" if several else ""
        files = tuple(
            InputFile(
                f.path, f.size, f.sha256, f.content_type, dataset.layer, f.storage_key, prefix
            )
            for f in dataset.files.order_by("path")
        )
        found.append(
            InputDataset(
                str(dataset.pk), dataset.name, dataset.layer, dataset.manifest_digest, files
            )
        )
    return found


def _checker(ctx: JobContext, spec: Pipeline) -> Any:
    limit = min(spec.time_limit or settings.PIPELINE_TIME_LIMIT, settings.PIPELINE_TIME_LIMIT)
    deadline = time.monotonic() + limit

    def check() -> None:
        ctx.check()  # cancelled, lease lost, past the job kind's limit
        if time.monotonic() > deadline:
            raise PipelineFailed(f"ran past the pipeline's time limit of {limit} s")

    return check


def _target_ensure(run: PipelineRun) -> Dataset:
    """The output dataset, made once; files an earlier attempt stored are removed."""
    with transaction.atomic():
        run = PipelineRun.objects.select_for_update().get(pk=run.pk)
        if run.output_id is None:
            first = Dataset.objects.get(pk=run.inputs[0]["id"])
            run.output = dataset_create(
                name=f"{first.name} · {run.pipeline_name}"[:255],
                description=f"Made by pipeline {run.pipeline_name} {run.pipeline_version}.",
                source=first.source,
                layer=run.target_layer,
                owner=run.requested_by or first.owner,
                metadata=metadata_document(
                    source=first.source,
                    experiments=[],
                    extra={"pipeline": run.pipeline_name, "pipeline_version": run.pipeline_version},
                ),
                derived_from=list(run.input_datasets.all()),
            )
            run.save(update_fields=["output"])
        target = run.output
    assert target is not None
    if target.files.exists():
        from lakeweb.storage import layer_store

        layer_store(target.layer).delete_prefix(target.storage_prefix)
        target.files.all().delete()
    return target


def _outputs(writer: OutputWriter, layer: str) -> list[tuple[str, Path]]:
    """Every file the pipeline wrote, checked as an upload's paths are; PipelineFailed if not."""
    files = list(writer.files())
    if not files:
        raise PipelineFailed("the pipeline wrote no file")
    for relative, local in files:
        reason = unsafe_path_reason(relative)
        if local.is_symlink() or reason:
            raise PipelineFailed(f"the pipeline wrote {relative!r}: {reason or 'a link'}")
    try:
        clean_paths([relative for relative, _local in files], layer=layer)
    except ValidationError as exc:
        raise PipelineFailed("; ".join(exc.messages)) from exc
    return files


def _store(ctx: JobContext, target: Dataset, files: list[tuple[str, Path]]) -> None:
    for done, (relative, local) in enumerate(files):
        ctx.progress(done, len(files), f"storing {relative}")
        with local.open("rb") as stream:
            dataset_file_store(dataset=target, path=relative, stream=stream)
    ctx.progress(len(files), len(files), "stored", force=True)


def pipeline_run_body(ctx: JobContext) -> dict[str, Any]:
    """Run the pipeline into staging, store and hash each file, seal once, record provenance."""
    run = PipelineRun.objects.select_related("output").get(job=ctx.job)
    if run.output is not None and run.output.status == DatasetStatus.READY:
        return _result(run.output)  # sealed by an attempt whose end was not recorded
    spec = _spec(run)
    staging = staging_dir(run)
    shutil.rmtree(staging, ignore_errors=True)  # what an earlier attempt left
    staging.mkdir(parents=True)
    run.started_at, run.software = timezone.now(), software_versions(spec)
    run.save(update_fields=["started_at", "software"])
    ctx.log(f"{spec.label} ({run.code_digest[:12]}) with {run.parameters}")
    writer = OutputWriter(staging)
    context = PipelineContext(
        inputs=_inputs(run),
        output=writer,
        params=dict(run.parameters),
        _log=ctx.log,
        _progress=lambda done, total: ctx.progress(done, total),
        _check=_checker(ctx, spec),
    )
    spec.body(context)
    context.check()
    files = _outputs(writer, run.target_layer)
    target = _target_ensure(run)
    _store(ctx, target, files)
    with ctx.hold():
        _seal(run, target)
    shutil.rmtree(staging, ignore_errors=True)
    run_notify(run=run, outcome=JobStatus.SUCCEEDED)
    return _result(target)


def _result(target: Dataset) -> dict[str, Any]:
    return {
        "target": str(target.pk),
        "files": target.file_count,
        "bytes": target.total_size,
        "manifest_digest": target.manifest_digest,
    }


def _event_parameters(run: PipelineRun, outcome: str, reason: str = "") -> dict[str, Any]:
    return {
        "pipeline": run.pipeline_name,
        "version": run.pipeline_version,
        "code_digest": run.code_digest,
        "params": run.parameters,
        "inputs": [{"id": i["id"], "manifest_digest": i["manifest_digest"]} for i in run.inputs],
        "software": run.software,
        "started": run.started_at.isoformat() if run.started_at else None,
        "ended": run.ended_at.isoformat() if run.ended_at else None,
        "outcome": outcome,
        **({"reason": reason} if reason else {}),
        "run": str(run.pk),
        "job": str(run.job_id),
        **({"reproduces": str(run.reproduces_id)} if run.reproduces_id else {}),
    }


def _seal(run: PipelineRun, target: Dataset) -> None:
    dataset_seal(dataset=target)
    run.ended_at = timezone.now()
    run.save(update_fields=["ended_at"])
    provenance_record(
        activity=Activity.PIPELINE,
        actor=run.requested_by,
        dataset=target,
        used=list(run.input_datasets.all()),
        source_layer=run.inputs[0]["layer"],
        target_layer=target.layer,
        parameters=_event_parameters(run, JobStatus.SUCCEEDED),
    )


def pipeline_run_on_fail(job: Job, reason: str) -> None:
    """A failed or cancelled run: no dataset, no staging; recorded, and its requester told."""
    run = PipelineRun.objects.select_related("output").filter(job=job).first()
    if run is None:
        return
    if run.output is not None:
        dataset_fail(dataset=run.output, reason=f"Pipeline run failed: {reason}")
    shutil.rmtree(staging_dir(run), ignore_errors=True)
    if run.ended_at is None:
        run.ended_at = timezone.now()
        run.save(update_fields=["ended_at"])
    job.refresh_from_db()
    # Made nothing, so no dataset and no "used" links (lineage draws used -> dataset edges);
    # the inputs and their digests are in the parameters.
    provenance_record(
        activity=Activity.PIPELINE,
        actor=run.requested_by,
        source_layer=run.inputs[0]["layer"],
        target_layer=run.target_layer,
        parameters=_event_parameters(run, job.status, reason),
        note=f"Pipeline run {job.status}: {reason}"[:2000],
    )
    run_notify(run=run, outcome=job.status, reason=reason)


def run_notify(*, run: PipelineRun, outcome: str, reason: str = "") -> None:
    """Email the requester that the run ended, with a link to its page (never fails the run)."""
    user = run.requested_by
    if user is None or not user.email:
        return
    link = site_link("provenance:pipeline_run", run.pk)
    lines = [f"Your run of {run.pipeline_name} {run.pipeline_version} {outcome}.", ""]
    if reason:
        lines += [f"Reason: {reason}", ""]
    lines.append(f"See it at {link}")
    try:
        send_mail(f"[lakeweb] {run.pipeline_name}: {outcome}", "\n".join(lines), None, [user.email])
    except Exception:  # the outcome stands whatever the mail server says
        logger.exception("run %s: the email to %s was not sent", run.pk, user.email)
