"""REST API of security events: ``/api/v1/events/`` (POST one or many, list with filters, read one).

Reading lists only the events in the caller's active scopes (``?scope=<id>`` selects one; :mod:`kcs.visibility`),
so an event outside them is a 404. Posting is not scoped: a scanner reports whatever it finds.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from events import metrics, services
from events.filters import EventFilter
from events.models import SecurityEvent
from events.serializers import IngestResultSerializer, SecurityEventInputSerializer, SecurityEventSerializer
from kcs.visibility import visibility_of


class EventCursorPagination(CursorPagination):
    ordering = "-id"  # newest first; ids grow with arrival
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def validation_response(error: services.IngestValidationError) -> Response:
    """400 naming the item index and field of each bad event (the first 50)."""
    if None in error.errors:  # a single object: its field errors directly
        errors = error.errors[None]
    else:
        errors = {str(index): fields for index, fields in error.errors.items()}
    return Response(
        {"detail": error.summary(), "invalid_count": error.invalid_count, "errors": errors},
        status=status.HTTP_400_BAD_REQUEST,
    )


def ingest_response(result: services.IngestResult) -> Response:
    """201 when something new was stored, 200 when every item was already known."""
    code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return Response(result.as_dict(), status=code)


class SecurityEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Security events. POST takes one event object or a JSON list of up to 5,000; all are validated first."""

    queryset = SecurityEvent.objects.select_related("batch")  # evaluated_at is the batch's
    serializer_class = SecurityEventSerializer
    filterset_class = EventFilter
    pagination_class = EventCursorPagination

    def get_queryset(self):
        return super().get_queryset().filter(visibility_of(self.request).resource_q())

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="SecurityEventInputOrList",
            serializers=[SecurityEventInputSerializer, SecurityEventInputSerializer(many=True)],
            resource_type_field_name=None,
            many=False,
        ),
        responses={201: IngestResultSerializer, 200: IngestResultSerializer},
        examples=[
            OpenApiExample(
                "A critical vulnerability",
                value={
                    "type": "vulnerability",
                    "severity": "critical",
                    "title": "openssl: buffer overflow",
                    "registry": "registry.example.com",
                    "repository": "shop/api",
                    "tag": "1.4.2",
                    "finding_id": "CVE-2024-0001",
                    "package": "openssl",
                    "installed_version": "3.0.1",
                    "fixed_version": "3.0.13",
                    "cvss": 9.8,
                    "uid": "ci-run-812/CVE-2024-0001",
                },
                request_only=True,
            )
        ],
    )
    @metrics.timed_ingest
    def create(self, request, *args, **kwargs):
        payload = request.data
        single = isinstance(payload, dict)
        if single:
            items = [payload]
        elif isinstance(payload, list):
            items = payload
        else:
            raise ValidationError({"non_field_errors": ["Expected an event object or a list of events."]})
        if not items:
            raise ValidationError({"non_field_errors": ["The list is empty: send at least one event."]})
        limit = settings.KCS_MAX_EVENTS_PER_REQUEST
        if len(items) > limit:
            raise ValidationError(
                {"non_field_errors": [f"At most {limit} events per request; got {len(items)}. Split the list."]}
            )
        try:
            result = services.ingest(items, source="api", user=request.user, single=single)
        except services.IngestValidationError as error:
            return validation_response(error)
        return ingest_response(result)


def register(router) -> None:
    router.register("events", SecurityEventViewSet, basename="event")
