"""Rebuild the catalog's tallies, search documents and folder trees."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from catalog.services.indexing import catalog_reindex


class Command(BaseCommand):
    help = (
        "Rebuild facet and dashboard tallies from the datasets, and (unless told not to) "
        "the search document and folder tree of every sealed dataset."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--tallies-only", action="store_true", help="Rebuild the tallies and nothing else."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        only = options["tallies_only"]
        result = catalog_reindex(search=not only, folders=not only)
        self.stdout.write(
            f"Reindexed {result['datasets']} datasets; {result['tallies']} tallies, "
            f"{result['tag_tallies']} tag tallies, {result['value_tallies']} value tallies."
        )
