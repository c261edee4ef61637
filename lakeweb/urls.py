from django.contrib import admin
from django.urls import include, path

from . import http_errors, metrics, views
from .tokens.views import api_token

admin.site.site_header = "lakeweb administration"
admin.site.site_title = "lakeweb admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("metrics", metrics.metrics, name="metrics"),
    path("setup/<str:token>/", views.setup, name="setup"),
    path("accounts/token/", api_token, name="api_token"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("datasets/", include("catalog.urls")),
    path("provenance/", include("provenance.urls")),
    path("backups/", include("backups.urls")),
    path("jobs/", include("lakeweb.jobs.urls")),
    path("api/", include("lakeweb.api_urls")),
]

# JSON under /api/, the pages elsewhere (lakeweb/http_errors.py).
handler400 = http_errors.bad_request
handler403 = http_errors.permission_denied
handler404 = http_errors.page_not_found
handler500 = http_errors.server_error
