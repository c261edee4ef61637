"""Catalog test fixtures shared across modules: the factories, and a small lab of sealed datasets.

Each factory is a fixture returning its class (``metadata_form_factory(name=...)``
makes a row), so a test asks for what it builds the way it asks for a user.
"""

from __future__ import annotations

import pytest

from catalog import services
from catalog.models import Dataset, FieldType, Layer, MetadataForm

from .factories import (
    DatasetFactory,
    MetadataFieldFactory,
    MetadataFormFactory,
    SourceFactory,
    UploadedDatasetFactory,
)


@pytest.fixture
def metadata_form_factory(db) -> type[MetadataFormFactory]:
    return MetadataFormFactory


@pytest.fixture
def metadata_field_factory(db) -> type[MetadataFieldFactory]:
    return MetadataFieldFactory


@pytest.fixture
def source_factory(db) -> type[SourceFactory]:
    return SourceFactory


@pytest.fixture
def dataset_factory(db) -> type[DatasetFactory]:
    """Sealed datasets without files: ``dataset_factory(owner=member, name=..., tags=[...])``."""
    return DatasetFactory


@pytest.fixture
def uploaded_dataset_factory(db) -> type[UploadedDatasetFactory]:
    """Datasets with stored files, through the upload service: ``(owner=member, files={...})``."""
    return UploadedDatasetFactory


@pytest.fixture
def imaging_form(metadata_form_factory, metadata_field_factory) -> MetadataForm:
    form = metadata_form_factory(name="Imaging")
    metadata_field_factory(form=form, name="operator", prompt="Operator")
    metadata_field_factory(form=form, name="magnification", field_type=FieldType.INTEGER)
    metadata_field_factory(form=form, name="stained", field_type=FieldType.BOOLEAN)
    metadata_field_factory(
        form=form, name="channels", field_type=FieldType.MULTIPLE_CHOICE, choices="red\ngreen"
    )
    services.form_version_publish(form=form)
    return form


@pytest.fixture
def lab(member, curator, imaging_form, dataset_factory) -> dict[str, Dataset]:
    alice = {"operator": "alice", "magnification": 40, "stained": True, "channels": ["red"]}
    bob = {"operator": "bob", "magnification": 100, "stained": False, "channels": ["red", "green"]}
    return {
        "hela": dataset_factory(
            owner=member,
            name="HeLa time-lapse",
            form=imaging_form,
            tags=["microscopy", "hela"],
            experiment=alice,
            days_ago=1,
            size=300,
            external_id="EXP-0042",
        ),
        "yeast": dataset_factory(
            owner=member,
            name="Yeast growth curve",
            form=imaging_form,
            tags=["microscopy"],
            experiment=bob,
            days_ago=10,
            size=100,
            description="Optical density of budding yeast",
        ),
        "spectra": dataset_factory(
            owner=curator,
            name="Raman spectra",
            source="instrument",
            tags=["spectroscopy"],
            days_ago=40,
            size=200,
            layer=Layer.PROCESSED,
        ),
    }


@pytest.fixture
def many(member, dataset_factory) -> list[Dataset]:
    return [
        dataset_factory(owner=member, name=f"Run {n:03}", days_ago=n % 7, size=n) for n in range(60)
    ]
