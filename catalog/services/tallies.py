"""Tallies of ready datasets, kept in the sealing and deleting transactions.

- ``DatasetTally``: datasets and bytes per layer, source, form and month
  (facet counts, numbered pages in date order, the dashboard, the stats API);
- ``TagTally``: datasets per tag and layer (the tag facet);
- ``FieldValueTally``: datasets per metadata field value and layer, which
  tells a broad ``field = value`` search that it matches more datasets than
  the catalog counts without reading them (``selectors/counts.py``).

The first two are exact. The value tally may only fall short of the truth:
it skips long values, and datasets sealed before it existed until
``catalog_reindex``. It is read as a lower bound and nothing else.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from itertools import islice
from typing import Any, cast

from django.db.models import Count, F, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from ..models import (
    Dataset,
    DatasetStatus,
    DatasetTally,
    FieldValueTally,
    MetadataFormVersion,
    TagTally,
)

# Longer values (notes, long text) are not tallied; searches for them read the matches.
VALUE_MAX = cast(int, FieldValueTally._meta.get_field("value").max_length)  # set: a CharField
ValueKey = tuple[str, str, bool]  # field name, value as JSON text, element of a list


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def field_values(metadata: Any) -> set[ValueKey]:
    """The (name, value, in a list) keys a ``field = value`` search can match in ``metadata``.

    Mirrors the search's containment tests: a top-level scalar, an
    experiment's scalar, an element of an experiment's list.
    """
    keys: set[ValueKey] = set()
    if not isinstance(metadata, dict):
        return keys

    def add(name: str, value: Any, in_list: bool) -> None:
        if _scalar(value) and len(text := FieldValueTally.text_of(value)) <= VALUE_MAX:
            keys.add((name, text, in_list))

    for name, value in metadata.items():
        if name != "experiments":
            add(name, value, False)
    experiments = metadata.get("experiments")
    for experiment in experiments if isinstance(experiments, list) else []:
        if not isinstance(experiment, dict):
            continue
        for name, value in experiment.items():
            if isinstance(value, list):
                for element in value:
                    add(name, element, True)
            else:
                add(name, value, False)
    return keys


def _month(dataset: Dataset) -> date:
    return timezone.localtime(dataset.created_at).date().replace(day=1)


def tallies_add(*, dataset: Dataset, sign: int) -> None:
    """Count a dataset being sealed in (``sign`` +1), or one being deleted out (-1)."""
    form_id = (
        cast(MetadataFormVersion, dataset.form_version).form_id  # not None: its id is set
        if dataset.form_version_id
        else None
    )
    key: dict[str, Any] = {
        "layer": dataset.layer,
        "source_id": dataset.source_id,
        "form_id": form_id,
        "month": _month(dataset),
    }
    row, _ = DatasetTally.objects.get_or_create(**key)
    DatasetTally.objects.filter(pk=row.pk).update(
        datasets=F("datasets") + sign, bytes=F("bytes") + sign * dataset.total_size
    )
    for tag in dataset.tags.all():
        tag_row, _ = TagTally.objects.get_or_create(tag=tag, layer=dataset.layer)
        TagTally.objects.filter(pk=tag_row.pk).update(datasets=F("datasets") + sign)
    # The stored metadata, as the rebuild and the delete read it, not the object's copy.
    stored = Dataset.objects.values_list("metadata", flat=True).get(pk=dataset.pk)
    for name, text, in_list in field_values(stored):
        value_row, _ = FieldValueTally.objects.get_or_create(
            name=name, value=text, in_list=in_list, layer=dataset.layer
        )
        FieldValueTally.objects.filter(pk=value_row.pk).update(datasets=F("datasets") + sign)


def _value_rows(ready: Iterable[tuple[str, Any]]) -> Iterable[FieldValueTally]:
    counts: Counter[tuple[str, str, bool, str]] = Counter()
    for layer, metadata in ready:
        for name, text, in_list in field_values(metadata):
            counts[name, text, in_list, layer] += 1
    for (name, text, in_list, layer), n in counts.items():
        yield FieldValueTally(name=name, value=text, in_list=in_list, layer=layer, datasets=n)


def tallies_rebuild() -> None:
    """Count every ready dataset again (after bulk loads, or for older datasets)."""
    DatasetTally.objects.all().delete()
    TagTally.objects.all().delete()
    FieldValueTally.objects.all().delete()
    ready = Dataset.objects.filter(status=DatasetStatus.READY).order_by()
    rows = ready.values(
        "layer", "source_id", form_id=F("form_version__form_id"), day=TruncMonth("created_at")
    ).annotate(n=Count("id"), size=Sum("total_size"))
    DatasetTally.objects.bulk_create(
        DatasetTally(
            layer=row["layer"],
            source_id=row["source_id"],
            form_id=row["form_id"],
            month=row["day"].date() if hasattr(row["day"], "date") else row["day"],
            datasets=row["n"],
            bytes=row["size"] or 0,
        )
        for row in rows
    )
    tag_rows = (
        Dataset.tags.through.objects.filter(dataset__status=DatasetStatus.READY)
        .values("tag_id", layer=F("dataset__layer"))
        .annotate(n=Count("dataset_id"))
        .order_by()
    )
    TagTally.objects.bulk_create(
        TagTally(tag_id=row["tag_id"], layer=row["layer"], datasets=row["n"]) for row in tag_rows
    )
    metadata = ready.values_list("layer", "metadata").iterator(chunk_size=5000)
    value_rows = _value_rows(metadata)
    while batch := list(islice(value_rows, 5000)):
        FieldValueTally.objects.bulk_create(batch)
