"""WSGI entry point (gunicorn kcs.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kcs.settings")
application = get_wsgi_application()
