"""Native ingestion endpoints: ``POST /api/v1/ingest/{trivy,grype,harbor,falco}/`` take each tool's own output.

The body is read as sent (any content type, so ``curl --data-binary @report.json`` works without a header, and
Falco's JSON lines are not refused by a JSON parser). Query parameters named after resource fields (``cluster``,
``namespace``, ``node``, ``registry``, ``repository``, ``tag``, ``digest``) fill what the tool does not know.
Auth is the API token (``Authorization: Token <key>``) with the ``events.add_securityevent`` permission. A payload
that maps to more than ``KCS_MAX_EVENTS_PER_REQUEST`` events is refused with 413, nothing stored.
"""

from __future__ import annotations

import hmac
import logging
from importlib import import_module

from django.conf import settings
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from events import metrics, services
from events.adapters import ADAPTERS, HINT_FIELDS, AdapterError, clean_hints, ingest_native
from events.api import validation_response
from events.models import SecurityEvent
from kcs.permissions import ModelPermissions

logger = logging.getLogger(__name__)


class HarborAuthHeader(BasePermission):
    """With ``KCS_HARBOR_AUTH_HEADER`` set, only a request carrying exactly that Authorization value may post.

    Harbor sends one fixed Authorization header per webhook policy; its value is also the API token
    (``Token <key>``). Pinning it means a leaked token of another integration cannot post forged scan results.
    """

    message = "This endpoint accepts only the Authorization value configured in KCS_HARBOR_AUTH_HEADER."

    def has_permission(self, request, view) -> bool:
        expected = settings.KCS_HARBOR_AUTH_HEADER
        if not expected:
            return True
        sent = request.META.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(sent.encode(), expected.encode())


# Checks on top of the token and model permission, per tool.
EXTRA_PERMISSIONS = {"harbor": [HarborAuthHeader]}


class NativeIngestResultSerializer(serializers.Serializer):
    """The answer to a native ingest POST (for the OpenAPI schema)."""

    received = serializers.IntegerField(help_text="Findings in the payload")
    created = serializers.IntegerField(help_text="Events stored now")
    duplicates = serializers.IntegerField(help_text="Findings already stored (same uid): not stored again")
    batch = serializers.UUIDField(allow_null=True, help_text="The batch of the stored events; null when none")
    ignored = serializers.ListField(
        child=serializers.CharField(), help_text="What was acknowledged without being stored, and why"
    )


class NativeIngestView(APIView):
    """Accept one tool's native output; subclasses per tool are made in ``urlpatterns``."""

    tool = ""
    queryset = SecurityEvent.objects.none()  # ModelPermissions: POST needs events.add_securityevent
    parser_classes: list = []  # the body is read raw (see the module docstring)
    http_method_names = ["post", "options"]

    @extend_schema(
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(name, str, description=f"Fills the event's {name} where the payload has none")
            for name in HINT_FIELDS
        ],
        responses={
            201: NativeIngestResultSerializer,
            200: NativeIngestResultSerializer,
            413: OpenApiResponse(description="More events than KCS_MAX_EVENTS_PER_REQUEST, or a body too large"),
        },
    )
    @metrics.timed_ingest
    def post(self, request, *args, **kwargs):
        hints, errors = clean_hints(request.query_params.dict())
        if errors:
            return Response(
                {"detail": "Invalid query parameters.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST
            )
        limit = settings.KCS_MAX_EVENTS_PER_REQUEST
        try:
            outcome = ingest_native(self.tool, request.body, user=request.user, hints=hints, max_events=limit)
        except services.TooManyEvents as error:
            logger.warning("%s ingest from %s refused: %s", self.tool, request.user, error)
            return Response({"detail": str(error)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except AdapterError as error:
            logger.warning("%s ingest from %s refused: %s", self.tool, request.user, error.message)
            return Response({"detail": error.message, "errors": error.as_errors()}, status=status.HTTP_400_BAD_REQUEST)
        except services.IngestValidationError as error:
            logger.warning("%s ingest from %s refused: %s", self.tool, request.user, error.summary())
            return validation_response(error)
        code = status.HTTP_201_CREATED if outcome.result.created else status.HTTP_200_OK
        return Response(outcome.as_dict(), status=code)


def _view_for(tool: str):
    adapter_module = type(ADAPTERS[tool]).__module__
    view = type(
        f"{ADAPTERS[tool].label}IngestView",
        (NativeIngestView,),
        {
            "tool": tool,
            "permission_classes": [ModelPermissions, *EXTRA_PERMISSIONS.get(tool, [])],
            # The adapter's docstring documents the accepted payloads in the API docs.
            "__doc__": import_module(adapter_module).__doc__,
        },
    )
    return view.as_view()


urlpatterns = [path(f"ingest/{tool}/", _view_for(tool), name=f"ingest-{tool}") for tool in ADAPTERS]
