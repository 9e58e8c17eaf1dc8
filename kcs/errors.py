"""Error pages: JSON for API paths (clients parse them), the console's layout for screens."""

from django.http import JsonResponse
from django.shortcuts import render


def _wants_json(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return render(request, "errors/404.html", status=404)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Internal error; it has been logged."}, status=500)
    # Rendered without the request context: the failure may be the database that the context would query.
    return render(None, "errors/500.html", status=500)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return render(request, "errors/403.html", status=403)
