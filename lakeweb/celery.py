"""Celery application: promotions, pipelines and backups run on workers."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lakeweb.settings")

app = Celery("lakeweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
