"""Checks of the raw request before any view (the body size limit, 413; NUL characters in the query, 400), the
forced password change, and the Content-Security-Policy header."""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from kcs.users import FORCED_CHANGE_SESSION_KEY


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


class NulInQueryMiddleware:
    """Refuse a query string with a NUL character (``?q=%00``) in any parameter name or value with 400.

    PostgreSQL cannot take NUL in a query parameter, so a search or filter holding one would fail in the database;
    no screen or API filter has a use for it. API paths get the JSON error shape, screens a page naming the
    parameter. Listed after the authentication middleware so that the page is rendered like every other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                shown = name.replace("\x00", "\\u0000")
                message = f"The query parameter {shown} must not contain NUL (%00) characters."
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": message, "errors": {shown: [message]}}, status=400)
                return render(request, "errors/400.html", {"message": message}, status=400)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send ``settings.SECURE_CSP`` (directive → list of sources) as the ``Content-Security-Policy`` header.

    A response that already carries the header keeps its own. Django 6.0 has this middleware built in, reading the
    same setting; until then this one does the job.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = policy_header(settings.SECURE_CSP)
        return response


def policy_header(policy: dict[str, list[str]]) -> str:
    """The header value of ``policy``: ``default-src 'self'; img-src 'self' data:`` (a directive without sources
    stands alone, e.g. ``upgrade-insecure-requests``)."""
    return "; ".join(" ".join([directive, *sources]) for directive, sources in policy.items())


class ForcedPasswordChangeMiddleware:
    """A signed-in person who must change their password reaches only the password form and Sign out: screens
    redirect there, API calls with the session get 403 saying why (API tokens get the same from
    :class:`kcs.authentication.ApiTokenAuthentication`). Listed after the authentication middleware.

    The flag is read when the person signs in (:func:`kcs.users.note_forced_change`) and kept in the session, so a
    request costs no query; a reset password ends the person's other sessions anyway (Django checks the password
    hash on each request)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(FORCED_CHANGE_SESSION_KEY) and not self._allowed(request.path):
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                message = "You must change your password before doing anything else."
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": message}, status=403)
                return redirect("password-change")
        return self.get_response(request)

    @staticmethod
    def _allowed(path: str) -> bool:
        static = "/" + settings.STATIC_URL.lstrip("/")
        return path in (reverse("password-change"), reverse("logout"), reverse("login")) or path.startswith(static)
