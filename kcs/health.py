"""Health endpoints: ``/healthz`` (the process answers) and ``/readyz`` (database and broker reachable)."""

from __future__ import annotations

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from kcs.celery import app

logger = logging.getLogger(__name__)


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "not ready"; the message says which
        logger.warning("readiness: database unreachable: %s", exc)
        return f"database unreachable: {exc.__class__.__name__}"
    return None


def _check_broker() -> str | None:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # kombu raises many transport-specific errors
        logger.warning("readiness: broker unreachable: %s", exc)
        return f"broker unreachable: {exc.__class__.__name__}"
    return None


@require_GET
def readyz(request) -> JsonResponse:
    problems = [p for p in (_check_database(), _check_broker()) if p]
    if problems:
        return JsonResponse({"status": "unavailable", "problems": problems}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "broker": "ok"})
