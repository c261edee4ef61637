from django.urls import path

from . import views

app_name = "provenance"

urlpatterns = [
    path("<uuid:pk>/", views.dataset_lineage, name="dataset_lineage"),
    path("<uuid:pk>/graph/", views.dataset_graph, name="dataset_graph"),
    path("<uuid:pk>/prov.json", views.dataset_prov_json, name="dataset_prov_json"),
    path("<uuid:pk>/ro-crate.zip", views.dataset_ro_crate, name="dataset_ro_crate"),
    path("<uuid:pk>/bagit.zip", views.dataset_bagit, name="dataset_bagit"),
]
