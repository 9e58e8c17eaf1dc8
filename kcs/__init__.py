"""KCS Response project package: settings, URLs, the Celery app and cross-cutting pieces (tokens, audit)."""

from kcs.celery import app as celery_app

__all__ = ["celery_app"]
