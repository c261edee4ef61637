"""Catalog reads about one dataset: the dataset, its metadata rows, actions, downloads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any, cast

from django.db.models import QuerySet

from lakeweb.errors import NotFound
from lakeweb.jobs.models import Job, JobStatus
from lakeweb.jobs.selectors import jobs_for
from lakeweb.storage import layer_store

from ..models import DataFile, Dataset, DatasetStatus, MetadataForm
from ..services.fixity import datafile_open_verified
from ..services.promote import promotion_permission


def _dataset_shown(*, pk: Any, statuses: Sequence[str], missing: str) -> Dataset:
    try:
        return (
            Dataset.objects.select_related("source", "owner", "form_version__form")
            .prefetch_related("tags")
            .get(pk=pk, status__in=statuses)
        )
    except Dataset.DoesNotExist:
        raise NotFound(missing) from None


def dataset_get(*, pk: Any) -> Dataset:
    """A browsable dataset (ready or deleted tombstone); NotFound (a 404) when there is none."""
    statuses = [DatasetStatus.READY, DatasetStatus.DELETED]
    return _dataset_shown(pk=pk, statuses=statuses, missing="No such dataset.")


def dataset_get_ready(*, pk: Any) -> Dataset:
    """A ready dataset; NotFound (a 404) for tombstones and unfinished uploads too."""
    return _dataset_shown(
        pk=pk, statuses=[DatasetStatus.READY], missing="No ready dataset with this id."
    )


@dataclass(frozen=True)
class MetadataRow:
    prompt: str
    value: str


def _display(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _experiment_rows(experiment: dict[str, Any], prompts: dict[str, str]) -> list[MetadataRow]:
    # In the form's order, not the JSON's: PostgreSQL's jsonb does not keep key order.
    names = [name for name in prompts if name in experiment]
    names += [name for name in experiment if name not in prompts]
    return [MetadataRow(prompts.get(name, name), _display(experiment[name])) for name in names]


def dataset_metadata_rows(*, dataset: Dataset) -> list[list[MetadataRow]]:
    """Each experiment's values, labelled with the prompts of the form version used."""
    fields = dataset.form_version.fields if dataset.form_version else []
    prompts = {spec["name"]: spec["prompt"] for spec in fields}
    experiments = dataset.metadata.get("experiments", [])
    return [_experiment_rows(experiment, prompts) for experiment in experiments]


def dataset_actions(*, dataset: Dataset, user: Any) -> dict[str, Any]:
    """What this user may do with this dataset, for the page's buttons."""
    ready = dataset.status == DatasetStatus.READY
    next_layer = dataset.next_layer
    may_promote = (
        ready
        and next_layer is not None
        and user.has_perm(promotion_permission(source_layer=dataset.layer))
        and not dataset.promotions.filter(target_layer=next_layer)
        .exclude(job__status__in=[JobStatus.FAILED, JobStatus.CANCELLED])
        .exists()
    )
    return {
        "promote_to": next_layer if may_promote else None,
        "delete": ready and dataset.layer != "raw" and user.has_perm("catalog.delete_dataset"),
    }


def dataset_jobs(*, dataset: Dataset) -> list[Job]:
    """The work that concerns this dataset (its promotions, its registration), newest first."""
    return list(jobs_for(subject=dataset))


def metadata_forms_open() -> QuerySet[MetadataForm]:
    """Forms that new uploads may use."""
    return MetadataForm.objects.filter(retired=False).order_by("name")


def metadata_forms_all() -> QuerySet[MetadataForm]:
    """Every form, retired ones too: datasets keep the forms they used."""
    return MetadataForm.objects.order_by("name")


@dataclass(frozen=True)
class Download:
    """Either a URL to send the browser to, or a stream to serve."""

    url: str | None = None
    stream: IO[bytes] | None = None


def datafile_download(*, datafile: DataFile) -> Download:
    """A presigned URL of the sealed version, or the file's stream hashed as it is sent.

    Raises ObjectMissing when a streamed file's object is gone.
    """
    store = layer_store(datafile.dataset.layer)
    filename = datafile.path.rsplit("/", 1)[-1]
    url = store.download_url(
        datafile.storage_key, filename=filename, version_id=datafile.version_id
    )
    if url:
        return Download(url=url)
    return Download(
        stream=cast("IO[bytes]", datafile_open_verified(datafile=datafile, found_by="download"))
    )
