"""Celery application: Redis broker, configuration from Django settings (CELERY_* keys)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpforge.settings")

app = Celery("mcpforge")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
