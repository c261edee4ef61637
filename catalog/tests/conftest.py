"""Catalog test fixtures shared across modules: a small lab of sealed datasets."""

from __future__ import annotations

import pytest

from catalog import services
from catalog.models import Dataset, FieldType, Layer, MetadataForm

from .factories import MetadataFieldFactory, MetadataFormFactory
from .factories import sealed_dataset as make


@pytest.fixture
def imaging_form() -> MetadataForm:
    form = MetadataFormFactory(name="Imaging")
    MetadataFieldFactory(form=form, name="operator", prompt="Operator")
    MetadataFieldFactory(form=form, name="magnification", field_type=FieldType.INTEGER)
    MetadataFieldFactory(form=form, name="stained", field_type=FieldType.BOOLEAN)
    MetadataFieldFactory(
        form=form, name="channels", field_type=FieldType.MULTIPLE_CHOICE, choices="red\ngreen"
    )
    services.form_version_publish(form=form)
    return form


@pytest.fixture
def lab(member, curator, imaging_form) -> dict[str, Dataset]:
    alice = {"operator": "alice", "magnification": 40, "stained": True, "channels": ["red"]}
    bob = {"operator": "bob", "magnification": 100, "stained": False, "channels": ["red", "green"]}
    return {
        "hela": make(
            member,
            name="HeLa time-lapse",
            form=imaging_form,
            tags=["microscopy", "hela"],
            experiment=alice,
            days_ago=1,
            size=300,
            external_id="EXP-0042",
        ),
        "yeast": make(
            member,
            name="Yeast growth curve",
            form=imaging_form,
            tags=["microscopy"],
            experiment=bob,
            days_ago=10,
            size=100,
            description="Optical density of budding yeast",
        ),
        "spectra": make(
            curator,
            name="Raman spectra",
            source="instrument",
            tags=["spectroscopy"],
            days_ago=40,
            size=200,
            layer=Layer.PROCESSED,
        ),
    }


@pytest.fixture
def many(member) -> list[Dataset]:
    made = [make(member, name=f"Run {n:03}", days_ago=n % 7, size=n) for n in range(60)]
    return made
