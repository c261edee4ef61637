"""Project-level pages: home, health check and first-admin setup."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.password_validation import validate_password
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from .celery import app as celery_app
from .setup import SetupClosed, first_admin_create, setup_token_check
from .storage import layer_store

logger = logging.getLogger(__name__)


@login_not_required
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Database, broker and storage, each ``ok`` or an error; 503 when any fails."""
    checks = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a health check reports every failure
            logger.warning("health check %s failed: %s", name, exc)
            results[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **results}, status=200 if healthy else 503
    )


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def _check_storage() -> None:
    for layer in settings.LAKEWEB_LAYERS:
        layer_store(layer).check()


class FirstAdminForm(forms.Form):
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


@login_not_required
@never_cache
def setup(request: HttpRequest, token: str) -> HttpResponse:
    try:
        setup_token_check(token)
    except SetupClosed as exc:
        return render(request, "setup_closed.html", {"reason": str(exc)}, status=404)
    form = FirstAdminForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = first_admin_create(token=token, **form.cleaned_data)
        except SetupClosed as exc:
            return render(request, "setup_closed.html", {"reason": str(exc)}, status=404)
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("admin:index")
    return render(request, "setup.html", {"form": form}, status=400 if form.errors else 200)


def home(request: HttpRequest) -> HttpResponse:
    return redirect("catalog:dataset_list")
