from django.urls import path

from . import views
from .pipelines import views as pipeline_views

app_name = "provenance"

urlpatterns = [
    path("<uuid:pk>/", views.dataset_lineage, name="dataset_lineage"),
    path("<uuid:pk>/graph/", views.dataset_graph, name="dataset_graph"),
    path("<uuid:pk>/prov.json", views.dataset_prov_json, name="dataset_prov_json"),
    path("<uuid:pk>/ro-crate.zip", views.dataset_ro_crate, name="dataset_ro_crate"),
    path("<uuid:pk>/bagit.zip", views.dataset_bagit, name="dataset_bagit"),
    # Pipelines: start a run from a dataset; a run's page, run it again, cancel it.
    path("<uuid:pk>/run/", pipeline_views.pipeline_start, name="pipeline_start"),
    path("runs/<uuid:pk>/", pipeline_views.pipeline_run_detail, name="pipeline_run"),
    path(
        "runs/<uuid:pk>/again/", pipeline_views.pipeline_run_again_view, name="pipeline_run_again"
    ),
    path(
        "runs/<uuid:pk>/cancel/",
        pipeline_views.pipeline_run_cancel_view,
        name="pipeline_run_cancel",
    ),
]
