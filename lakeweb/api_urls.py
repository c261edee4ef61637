"""Routes of the JSON API under /api/ (SPEC §3 item 6); each app's api.py owns its views."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from backups import api as backups_api
from backups import fixity_api
from catalog import api as catalog_api
from provenance import api as provenance_api
from provenance.pipelines import api as pipelines_api

from . import api, api_docs

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", api_docs.api_docs, name="docs"),
    path("stats/", catalog_api.Stats.as_view(), name="stats"),
    path("datasets/", catalog_api.DatasetList.as_view(), name="dataset_list"),
    path("datasets/register/", catalog_api.DatasetRegister.as_view(), name="dataset_register"),
    path("datasets/<uuid:pk>/", catalog_api.DatasetDetail.as_view(), name="dataset_detail"),
    path(
        "datasets/<uuid:pk>/status/", catalog_api.DatasetStatusView.as_view(), name="dataset_status"
    ),
    path("datasets/<uuid:pk>/files/", catalog_api.DatasetFiles.as_view(), name="dataset_files"),
    path(
        "datasets/<uuid:pk>/files/<int:file_id>/download/",
        catalog_api.DatafileDownload.as_view(),
        name="datafile_download",
    ),
    path(
        "datasets/<uuid:pk>/promote/", catalog_api.DatasetPromote.as_view(), name="dataset_promote"
    ),
    path(
        "datasets/<uuid:pk>/restore/", catalog_api.DatasetRestore.as_view(), name="dataset_restore"
    ),
    path(
        "datasets/<uuid:pk>/lineage/",
        provenance_api.DatasetLineage.as_view(),
        name="dataset_lineage",
    ),
    path("datasets/<uuid:pk>/graph/", provenance_api.DatasetGraph.as_view(), name="dataset_graph"),
    # Exports (issue 13): PROV-JSON, RO-Crate and BagIt.
    path("datasets/<uuid:pk>/prov/", provenance_api.DatasetProvJson.as_view(), name="dataset_prov"),
    path(
        "datasets/<uuid:pk>/ro-crate/",
        provenance_api.DatasetRoCrate.as_view(),
        name="dataset_ro_crate",
    ),
    path("datasets/<uuid:pk>/bag/", provenance_api.DatasetBag.as_view(), name="dataset_bag"),
    # Pipelines and their runs (provenance/pipelines).
    path("pipelines/", pipelines_api.PipelineList.as_view(), name="pipeline_list"),
    path("pipelines/runs/", pipelines_api.RunStart.as_view(), name="pipeline_run_start"),
    path("pipelines/runs/<uuid:pk>/", pipelines_api.RunDetail.as_view(), name="pipeline_run"),
    path(
        "pipelines/runs/<uuid:pk>/again/",
        pipelines_api.RunAgain.as_view(),
        name="pipeline_run_again",
    ),
    path(
        "pipelines/runs/<uuid:pk>/cancel/",
        pipelines_api.RunCancel.as_view(),
        name="pipeline_run_cancel",
    ),
    path("backups/", backups_api.BackupList.as_view(), name="backup_list"),
    path("backups/<uuid:pk>/", backups_api.BackupDetail.as_view(), name="backup_detail"),
    path("backups/restores/", backups_api.RestoreStart.as_view(), name="restore_start"),
    path("backups/restores/<uuid:pk>/", backups_api.RestoreDetail.as_view(), name="restore_detail"),
    # fixity
    path("fixity/", fixity_api.FixityOverview.as_view(), name="fixity"),
    # Anything else, malformed ids included: a JSON 404 rather than the HTML page.
    re_path(r"^.*$", api.not_found),
]
