"""The one lookup of a metadata form by the name or id a user typed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.selectors.forms import metadata_form_find

from .factories import MetadataFormFactory

pytestmark = pytest.mark.django_db


def test_a_form_is_found_by_its_exact_name_or_its_id() -> None:
    form = MetadataFormFactory(name="Imaging")
    assert metadata_form_find(text="Imaging") == form
    assert metadata_form_find(text=str(form.pk)) == form
    assert metadata_form_find(text="imaging") is None


def test_a_name_made_of_digits_wins_over_an_id() -> None:
    first = MetadataFormFactory(name="First")
    named = MetadataFormFactory(name=str(first.pk))
    assert metadata_form_find(text=str(first.pk)) == named


@pytest.mark.parametrize("text", ["\u00b2", "\u0663", "\uff11", "1\u00b2", "-1", " 1", "1.0"])
def test_only_ascii_digits_make_an_id(text: str) -> None:
    MetadataFormFactory(name="Imaging")
    assert metadata_form_find(text=text) is None


@pytest.mark.parametrize("text", ["", "9" * 19, "9" * 201, "x" * 201])
def test_text_no_name_or_id_can_be_is_no_form(text: str) -> None:
    with CaptureQueriesContext(connection) as captured:
        assert metadata_form_find(text=text) is None
    assert len(captured) <= 1  # a name query at most: an overflowing id is never asked for
