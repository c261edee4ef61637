"""factory_boy factories for the catalog, plus helpers that go through the services."""

from __future__ import annotations

import datetime
import io
from typing import Any

import factory
from django.utils import timezone

from catalog import services
from catalog.models import Dataset, FieldType, Layer, MetadataField, MetadataForm, Source, Tag
from lakeweb.jobs.runner import job_run


class MetadataFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetadataForm

    name = factory.Sequence(lambda n: f"Microscopy run {n}")
    description = "Time-lapse imaging session"


class MetadataFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MetadataField

    form = factory.SubFactory(MetadataFormFactory)
    order = factory.Sequence(lambda n: n)
    name = factory.Sequence(lambda n: f"field_{n}")
    prompt = factory.Sequence(lambda n: f"Field {n}")
    field_type = FieldType.TEXT


def microscopy_form() -> MetadataForm:
    """A form with a required text, a bounded integer and a choice."""
    form = MetadataFormFactory()
    MetadataFieldFactory(form=form, order=1, name="sample", prompt="Sample name", required=True)
    MetadataFieldFactory(
        form=form,
        order=2,
        name="magnification",
        prompt="Magnification",
        field_type=FieldType.INTEGER,
        min_value=1,
        max_value=1000,
    )
    MetadataFieldFactory(
        form=form,
        order=3,
        name="stain",
        prompt="Stain",
        field_type=FieldType.CHOICE,
        choices="DAPI\nGFP\nnone",
    )
    return form


FILES = {
    "run1/frame 001.tif": b"\x49\x49\x2a\x00" + b"a" * 1000,
    "run1/notes/readme.txt": "Température 37 °C\n".encode(),
    "run1/empty.dat": b"",
}


def upload_dataset(
    owner,
    *,
    files: dict[str, bytes] | None = None,
    name: str = "Run 1",
    derived_from: tuple[Dataset, ...] = (),
    layer: str = Layer.RAW,
) -> Dataset:
    """A ready dataset stored through the upload service: raw, or derived into ``layer``."""
    form = microscopy_form()
    version = services.form_version_current(form=form)
    items = [
        services.UploadedItem(path=path, stream=io.BytesIO(data))
        for path, data in (files or FILES).items()
    ]
    draft = services.DatasetDraft(
        owner=owner,
        name=name,
        source=Source.objects.get(slug="upload"),
        experiments=[{"sample": "HeLa-1", "magnification": "40", "stain": "DAPI"}],
        form_version=version,
        tags=["microscopy"],
        layer=layer,
        derived_from=[str(source.pk) for source in derived_from],
    )
    return services.dataset_upload(draft=draft, items=items)


def promote_dataset(dataset: Dataset, user) -> Dataset:
    """Promote to the next layer and run the promotion here; the new dataset."""
    promotion = services.dataset_promote_request(dataset=dataset, user=user)
    job_run(job_id=promotion.job_id)
    promotion.refresh_from_db()
    return promotion.target


def archive_dataset(owner, curator) -> Dataset:
    """A dataset promoted raw → processed → curated → archive (into the cold class, if set)."""
    dataset = promote_dataset(upload_dataset(owner), owner)
    for _ in (Layer.CURATED, Layer.ARCHIVE):
        dataset = promote_dataset(dataset, curator)
    return dataset


def sealed_dataset(
    owner,
    *,
    name,
    form=None,
    layer=Layer.RAW,
    source="upload",
    tags=(),
    days_ago=0,
    size=0,
    description="",
    external_id="",
    experiment=None,
) -> Dataset:
    """A ready dataset sealed (and so indexed) by the real service, without files."""
    version = services.form_version_current(form=form) if form else None
    source_row = Source.objects.get_or_create(slug=source, defaults={"name": source.title()})[0]
    experiments = [experiment] if experiment else []
    dataset = Dataset.objects.create(
        name=name,
        description=description,
        external_id=external_id,
        source=source_row,
        layer=layer,
        owner=owner,
        form_version=version,
        metadata=services.metadata_document(source=source_row, experiments=experiments),
        storage_prefix="datasets/x/",
    )
    Dataset.objects.filter(pk=dataset.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=days_ago)
    )
    dataset.refresh_from_db()
    dataset.tags.set([Tag.objects.get_or_create(name=tag)[0] for tag in tags])
    services.dataset_seal(dataset=dataset)
    if size:
        Dataset.objects.filter(pk=dataset.pk).update(total_size=size)
    return dataset


class SourceFactory(factory.django.DjangoModelFactory):
    """A data source; an existing slug ("upload", "instrument") gives its row."""

    class Meta:
        model = Source
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"instrument-{n}")
    name = factory.LazyAttribute(lambda source: source.slug.replace("-", " ").title())


class DatasetFactory(factory.django.DjangoModelFactory):
    """A ready dataset without files, sealed by the real service (``sealed_dataset``).

    ``owner`` is required; the other keywords are ``sealed_dataset``'s
    (``source`` is a slug, ``form`` a published metadata form).
    """

    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"Run {n:03}")

    @classmethod
    def _create(cls, model_class: type[Dataset], *args: Any, **kwargs: Any) -> Dataset:
        if kwargs.get("owner") is None:
            raise TypeError("DatasetFactory needs an owner")
        return sealed_dataset(kwargs.pop("owner"), **kwargs)


class UploadedDatasetFactory(factory.django.DjangoModelFactory):
    """A ready raw dataset with files (DataFile rows and stored bytes), by ``upload_dataset``.

    ``owner`` is required; ``files`` maps paths to bytes (default ``FILES``).
    """

    class Meta:
        model = Dataset

    name = factory.Sequence(lambda n: f"Upload {n:03}")
    files = factory.LazyFunction(lambda: dict(FILES))

    @classmethod
    def _create(cls, model_class: type[Dataset], *args: Any, **kwargs: Any) -> Dataset:
        if kwargs.get("owner") is None:
            raise TypeError("UploadedDatasetFactory needs an owner")
        return upload_dataset(kwargs.pop("owner"), **kwargs)
