"""WSGI entry point (gunicorn kcs.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from kcs.checks import warn_at_start
from kcs.warmup import warm_up

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
application = get_wsgi_application()
warn_at_start()
# What the first request would otherwise pay for: every app's URLs and views, and every task to enqueue by name.
warm_up()
