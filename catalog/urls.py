from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.upload_choose, name="upload_choose"),
    path("upload/<int:form_id>/", views.upload, name="upload"),
    path("upload/<int:form_id>/start/", views.upload_start, name="upload_start"),
    path("uploads/<uuid:upload_id>/", views.upload_session, name="upload_session"),
    path("uploads/<uuid:upload_id>/files/<int:file_id>/", views.upload_chunk, name="upload_chunk"),
    path("uploads/<uuid:upload_id>/batch/", views.upload_batch, name="upload_batch"),
    path("uploads/<uuid:upload_id>/finish/", views.upload_finish, name="upload_finish"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("layers/", views.layers, name="layers"),
    path("<uuid:pk>/", views.dataset_detail, name="dataset_detail"),
    path("<uuid:pk>/files/<int:file_id>/", views.datafile_download, name="datafile_download"),
    path("<uuid:pk>/tree/", views.dataset_tree, name="dataset_tree"),
    path("<uuid:pk>/zip/", views.dataset_zip, name="dataset_zip"),
    path("<uuid:pk>/files/<int:file_id>/preview/", views.datafile_preview, name="datafile_preview"),
    path("<uuid:pk>/files/<int:file_id>/inline/", views.datafile_inline, name="datafile_inline"),
    path("<uuid:pk>/promote/", views.dataset_promote, name="dataset_promote"),
    path("<uuid:pk>/delete/", views.dataset_delete, name="dataset_delete"),
    path("<uuid:pk>/restore/", views.dataset_restore, name="dataset_restore"),
]
