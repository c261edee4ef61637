"""Project-level pages: home, health check and first-admin setup."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

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


# Under the 4 s the image's HEALTHCHECK waits for an answer.
HEALTH_DEADLINE_SECONDS = 3.5
TIMED_OUT = "error: timed out"


@login_not_required
@never_cache
def health(request: HttpRequest) -> JsonResponse:
    """Database, broker and storage, each ``ok`` or an error; 503 when any fails.

    The checks run at once, each in a thread of its own, and the answer comes
    within HEALTH_DEADLINE_SECONDS whatever hangs: a check still running then
    is reported as timed out, and its thread ends on its own short timeouts.
    """
    checks = {"database": _check_database, "broker": _check_broker, "storage": _check_storage}
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    futures = {name: pool.submit(_outcome, name, check) for name, check in checks.items()}
    pool.shutdown(wait=False)
    _, late = wait(futures.values(), timeout=HEALTH_DEADLINE_SECONDS)
    results = {}
    for name, future in futures.items():
        if future in late:
            logger.warning("health check %s gave no answer in %s s", name, HEALTH_DEADLINE_SECONDS)
        results[name] = TIMED_OUT if future in late else future.result()
    healthy = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", **results}, status=200 if healthy else 503
    )


def _outcome(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        logger.warning("health check %s failed: %s", name, exc)
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection: not left open when it ends


def _check_broker() -> None:
    # Short timeouts: a stalled Redis accepts connections and then never answers.
    options = {"socket_connect_timeout": 1, "socket_timeout": 2}
    with celery_app.connection_for_write(connect_timeout=1, transport_options=options) as conn:
        conn.ensure_connection(max_retries=0, timeout=2)


def _check_storage() -> None:
    if settings.LAKEWEB_STORAGE == "s3":
        from .storage.s3client import s3_buckets_check

        # Its own client: one try with timeouts of 1 s and 2 s, where the
        # stores' client would wait up to ~20 s on a stalled endpoint.
        s3_buckets_check(connect_timeout=1, read_timeout=2)
        return
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
