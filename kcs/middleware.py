"""Request body size limit answered with 413 before any view reads the body."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse


class BodySizeLimitMiddleware:
    """Refuse bodies larger than ``KCS_MAX_BODY_BYTES`` with 413 and a JSON message.

    Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE) answers 400, and DRF parsers read the stream without it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        limit = settings.KCS_MAX_BODY_BYTES
        if length > limit:
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes; the limit is {limit} bytes."},
                status=413,
            )
        return self.get_response(request)
