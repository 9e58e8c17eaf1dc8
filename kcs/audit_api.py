"""``/api/v1/audit-log/``: the security event log, read-only, newest first, with the page's filters."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, viewsets

from kcs.audit_filters import AuditEntryFilter
from kcs.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor_name", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "timestamp",
            "category",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "source",
            "ip_address",
        ]
        read_only_fields = fields


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """Who changed what, when and from where: changes, sign-ins, alerts, refused ingest requests. Filters:
    ``category`` (administration, alerts, policies, integrations, events; another value is a 400 naming it),
    ``search`` (part of a user name or an object's name), ``actor``, ``object_type``, ``action``, ``source``,
    ``period`` (24h, 7d, 30d, 90d, all), ``since``, ``until``. Needs the *view security event log* right."""

    queryset = AuditEntry.objects.order_by("-timestamp", "-id")
    serializer_class = AuditEntrySerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEntryFilter


def register(router) -> None:
    router.register("audit-log", AuditEntryViewSet, basename="audit-log")
