from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.dataset_list, name="dataset_list"),
    path("upload/", views.upload_choose, name="upload_choose"),
    path("upload/<int:form_id>/", views.upload, name="upload"),
    path("<uuid:pk>/", views.dataset_detail, name="dataset_detail"),
    path("<uuid:pk>/files/<int:file_id>/", views.datafile_download, name="datafile_download"),
    path("<uuid:pk>/promote/", views.dataset_promote, name="dataset_promote"),
    path("<uuid:pk>/delete/", views.dataset_delete, name="dataset_delete"),
]
