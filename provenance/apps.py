from django.apps import AppConfig
from django.conf import settings


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance"

    def ready(self) -> None:
        from . import jobs  # noqa: F401 - registers the pipeline run kind of work
        from .pipelines.registry import pipelines_load

        # The shipped pipelines and each lab's own (LAKEWEB_PIPELINE_MODULES).
        pipelines_load(settings.LAKEWEB_PIPELINE_MODULES)
