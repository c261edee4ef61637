"""Celery application: every job (promotions, pipelines, backups…) runs on workers."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lakeweb.settings")

app = Celery("lakeweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["lakeweb.jobs"])
