"""WSGI entry point (gunicorn kcs.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from kcs.checks import warn_at_start

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
application = get_wsgi_application()
warn_at_start()
