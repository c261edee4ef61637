from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups"

    def ready(self) -> None:
        from . import (
            jobs,  # noqa: F401 - registers the backups' kinds of work
            metrics,  # noqa: F401 - registers its numbers for /metrics
        )
