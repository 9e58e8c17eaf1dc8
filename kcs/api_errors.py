"""One error shape for the whole API: ``{"detail": "...", "errors": {field: [messages]}}``.

DRF's default handler is kept for status codes and headers; this only reshapes validation errors so that a client
always finds a human-readable ``detail`` and, for 400s, field-level ``errors``.
"""

from __future__ import annotations

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        data = response.data
        if isinstance(data, dict) and "detail" in data and "errors" in data:
            return response
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": "Invalid input.", "errors": errors}
    elif response.status_code == status.HTTP_404_NOT_FOUND:
        response.data = {"detail": "Not found."}
    return response
