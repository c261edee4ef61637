"""Counts kept at sealing and deleting, so pages never count a million datasets."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from .datasets import Layer, Source, Tag
from .forms import MetadataForm


class DatasetTally(models.Model):
    """Ready datasets and their bytes per layer, source, form and month.

    Kept by the services that seal and delete datasets, in the same
    transaction, so that facet counts, the dashboard and the stats API read a
    few hundred rows instead of counting a million datasets.
    """

    layer = models.CharField(max_length=16, choices=Layer.choices)
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="+")
    form = models.ForeignKey(MetadataForm, null=True, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the month the dataset was made.")
    datasets = models.IntegerField(default=0)
    bytes = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "source", "form", "month"],
                condition=models.Q(form__isnull=False),
                name="tally_unique_with_form",
            ),
            models.UniqueConstraint(
                fields=["layer", "source", "month"],
                condition=models.Q(form__isnull=True),
                name="tally_unique_without_form",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.layer}/{self.source_id}/{self.form_id}/{self.month}: {self.datasets}"


class CatalogVersion(models.Model):
    """One row whose number changes with every change to what browsing shows.

    Set by the indexing services in the transaction that seals or deletes a
    dataset; pages and tallies are cached under it, so nothing cached is
    stale. Each change draws a new random number rather than adding one, so
    a number never comes back: not after a database restore or reload either,
    when a shared cache may still hold what an old number meant.
    """

    number = models.BigIntegerField(default=0)

    # With a cache every process shares (CACHE_URL), the number is also kept
    # there: set when a change commits, read back by every page, and read from
    # this row again once it expires (e.g. after a database restore).
    CACHE_KEY = "catalog-version"
    CACHE_SECONDS = 60

    def __str__(self) -> str:
        return f"catalog version {self.number}"


class TagTally(models.Model):
    """Ready datasets per tag and layer (kept like DatasetTally)."""

    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=16, choices=Layer.choices)
    datasets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "layer"], name="tagtally_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.tag_id}/{self.layer}: {self.datasets}"


class FieldValueTally(models.Model):
    """Ready datasets per metadata field value and layer (kept like DatasetTally).

    Tells a ``field = value`` search that it surely matches more datasets than
    the catalog counts, without reading them. It may count *fewer* datasets
    than have a value (values longer than ``value``'s length are not kept, nor
    datasets sealed before it existed until ``catalog_reindex``), never more:
    only a lower bound is ever read from it.
    """

    name = models.CharField(max_length=64)
    value = models.CharField(max_length=200, help_text="The value as JSON text.")
    in_list = models.BooleanField(default=False, help_text="An element of a multiple choice.")
    layer = models.CharField(max_length=16, choices=Layer.choices)
    datasets = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "value", "in_list", "layer"], name="fieldvaluetally_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value}/{self.layer}: {self.datasets}"

    @staticmethod
    def text_of(value: Any) -> str:
        """A metadata value as this tally keys it: its JSON text."""
        return json.dumps(value, ensure_ascii=False)
