"""factory_boy factories for the catalog, plus helpers that go through the services."""

from __future__ import annotations

import io

import factory

from catalog import services
from catalog.models import Dataset, FieldType, MetadataField, MetadataForm, Source


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


def upload_dataset(owner, *, files: dict[str, bytes] | None = None, name: str = "Run 1") -> Dataset:
    """A ready raw dataset stored through the upload service."""
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
    )
    return services.dataset_upload(draft=draft, items=items)


def promote_dataset(dataset: Dataset, user) -> Dataset:
    """Promote to the next layer and run the promotion here; the new dataset."""
    promotion = services.dataset_promote_request(dataset=dataset, user=user)
    services.promotion_run(promotion_id=str(promotion.pk))
    promotion.refresh_from_db()
    return promotion.target
