"""The Celery application; configuration comes from Django settings prefixed ``CELERY_``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")

app = Celery("kcs")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
