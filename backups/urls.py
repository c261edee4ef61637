from django.urls import path

from . import fixity_views, views

app_name = "backups"

urlpatterns = [
    path("", views.backup_list, name="backup_list"),
    path("trigger/", views.backup_trigger, name="backup_trigger"),
    path("restore/", views.backup_restore, name="backup_restore"),
    path("drill/", views.backup_drill, name="backup_drill"),
    path("fixity/", fixity_views.fixity_page, name="fixity"),
    path("fixity/run/", fixity_views.fixity_run, name="fixity_run"),
]
