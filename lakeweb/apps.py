from django.apps import AppConfig


class LakewebConfig(AppConfig):
    name = "lakeweb"
    verbose_name = "lakeweb"

    def ready(self) -> None:
        from .jobs import metrics  # noqa: F401 - registers the jobs' numbers for /metrics
