"""Celery application.

With no broker configured (CELERY_BROKER_URL empty, the embedded default) tasks run eagerly in the calling
process, so `make run` needs no extra service. Settings are read from Django settings under CELERY_*.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "madoguchi.conf.settings")

app = Celery("madoguchi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
