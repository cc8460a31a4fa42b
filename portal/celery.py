"""The Celery application. Tasks run eagerly when no REDIS_URL is configured."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The data-access agreements keep their tasks in access_requests/agreement_tasks.py.
app.autodiscover_tasks(["access_requests"], related_name="agreement_tasks")
app.autodiscover_tasks(["access_requests"], related_name="grant_tasks")
