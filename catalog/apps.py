from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Catalog"

    def ready(self) -> None:
        from . import (
            jobs,  # noqa: F401 - registers the catalog's kinds of work
            metrics,  # noqa: F401 - registers its numbers for /metrics
        )
