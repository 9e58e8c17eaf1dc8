"""REST API of the notifications app: ``/api/v1/integrations/`` (+ ``test``) and ``/api/v1/notifications/``
(+ ``retry``).

An integration's ``config`` and ``secrets`` are validated by :func:`notifications.services.validate_integration`
(the kind's form: the screens' rules and messages); ``secrets`` are write-only (answers show ``"********"`` for each
stored one, and ``secrets_unreadable``/``secrets_error`` when no key can decrypt them). Deleting an integration a policy still uses answers 409 naming the policies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from events.models import SecurityEvent
from kcs.filters import IdFilter, IsoDateTimeFilter
from kcs.permissions import view_manage_permissions
from kcs.rights import MANAGE_INTEGRATIONS, VIEW_INTEGRATIONS
from kcs.visibility import visibility_of
from notifications import services
from notifications.channels import kind_choices
from notifications.models import Notification, NotificationIntegration, NotificationStatus, NotificationStream
from notifications.scoping import visible_notifications, visible_policies
from notifications.secrets import masked

# Integrations and the delivery log: reading needs *view integrations*, every write and action (Test, Retry)
# *manage integrations*, as on the screens.
IntegrationPermissions = view_manage_permissions(VIEW_INTEGRATIONS, MANAGE_INTEGRATIONS)


class IntegrationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=[])  # the registry's kinds, set in get_fields()
    enabled = serializers.BooleanField(required=False, default=True)
    config = serializers.DictField(required=False, help_text="Per-kind settings (see the README).")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Write-only. Omitted or blank values keep the stored ones; answers show each stored one masked.",
    )
    secrets_unreadable = serializers.SerializerMethodField(
        help_text="True when no key in KCS_ENCRYPTION_KEY can decrypt the stored secrets: enter them again."
    )
    secrets_error = serializers.SerializerMethodField(help_text="Why the stored secrets cannot be used, or null.")
    last_test = serializers.SerializerMethodField()

    class Meta:
        model = NotificationIntegration
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "config",
            "secrets",
            "secrets_unreadable",
            "secrets_error",
            "last_test",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"name": {"validators": []}}  # uniqueness (ignoring case) is the form's rule

    @extend_schema_field(
        {
            "type": "object",
            "nullable": True,
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "ok": {"type": "boolean"},
                "message": {"type": "string"},
            },
        }
    )
    def get_last_test(self, integration: NotificationIntegration) -> dict[str, Any] | None:
        if integration.last_test_at is None:
            return None
        return {
            "at": integration.last_test_at,
            "ok": integration.last_test_ok,
            "message": integration.last_test_message,
        }

    def get_secrets_unreadable(self, integration: NotificationIntegration) -> bool:
        return services.secrets_error(integration) is not None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_secrets_error(self, integration: NotificationIntegration) -> str | None:
        return services.secrets_error(integration)

    def to_representation(self, instance: NotificationIntegration) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["secrets"] = masked(instance.secrets_encrypted)
        return data

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # The channel registry's kinds when the serializer is used (also for the OpenAPI enum), not at import.
        fields["kind"].choices = kind_choices()
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: NotificationIntegration | None = self.instance
        kind = instance.kind if instance is not None else attrs["kind"]
        if instance is not None and attrs.get("kind", kind) != kind:
            raise serializers.ValidationError({"kind": ["The kind of an integration cannot change."]})
        config = attrs.get("config", {})
        if instance is not None and self.partial:
            config = {**instance.config, **config}
        values = {
            "name": attrs.get("name", instance.name if instance is not None else ""),
            "enabled": attrs.get("enabled", instance.enabled if instance is not None else True),
            "config": config,
            "secrets": attrs.get("secrets", {}),
        }
        try:
            return {"settings": services.validate_integration(kind, values, instance)}
        except services.InvalidIntegration as exc:
            raise serializers.ValidationError(exc.errors)

    def create(self, validated_data: dict[str, Any]) -> NotificationIntegration:
        return services.write_integration(self.context["request"], validated_data["settings"])

    def update(self, instance: NotificationIntegration, validated_data: dict[str, Any]) -> NotificationIntegration:
        return services.write_integration(self.context["request"], validated_data["settings"], instance)


_test_result = inline_serializer(
    "IntegrationTestResult",
    {
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(),
    },
)


class RegisteredKinds(Sequence):
    """The registry's ``(kind, label)`` pairs, read at each use. For the filter below: django-filter would freeze a
    list at import, and the schema generator leaves a callable's choices out of the OpenAPI enum."""

    def __getitem__(self, index):
        return kind_choices()[index]

    def __len__(self) -> int:
        return len(kind_choices())


class IntegrationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=RegisteredKinds())

    class Meta:
        model = NotificationIntegration
        fields = ["kind", "enabled"]


class IntegrationViewSet(viewsets.ModelViewSet):
    """Notification outputs. ``POST {id}/test/`` sends a real test message and answers ``{ok, message}``."""

    queryset = NotificationIntegration.objects.order_by("kind", "name")
    serializer_class = IntegrationSerializer
    permission_classes = [IntegrationPermissions]
    filterset_class = IntegrationFilter

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Used by response policies")})
    def destroy(self, request, *args, **kwargs):
        integration = self.get_object()
        try:
            services.delete_integration(request, integration)
        except services.IntegrationInUse as exc:
            refusal = exc.seen_by(visibility_of(request))
            return Response(
                {"detail": str(refusal), "policies": refusal.policies, "hidden_policies": refusal.hidden},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: _test_result})
    @action(detail=True, methods=["post"], permission_classes=[IntegrationPermissions])
    def test(self, request, pk=None):
        ok, message = services.send_test(request, self.get_object())
        return Response({"ok": ok, "message": message})


STREAM_FILTER_CHOICES = [
    ("policy", "Response policy notifications"),
    (NotificationStream.AUDIT, "SIEM: security event log"),
    (NotificationStream.EVENTS, "SIEM: security events"),
]


class NotificationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)
    event = IdFilter(field_name="events", help_text="Notifications carrying this event id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    stream = django_filters.ChoiceFilter(
        choices=STREAM_FILTER_CHOICES,
        method="filter_stream",
        help_text="policy: response policies' messages; audit, events: the rows of SIEM streams",
    )

    class Meta:
        model = Notification
        fields = ["status", "policy", "integration", "batch", "event", "stream"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.request is not None:
            # A policy the caller does not see is "not a valid choice", like one that does not exist.
            self.filters["policy"].queryset = visible_policies(visibility_of(self.request))

    def filter_stream(self, queryset, name, value):
        return queryset.filter(stream=NotificationStream.POLICY if value == "policy" else value)


class NotificationSerializer(serializers.ModelSerializer):
    events = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "policy",
            "policy_name",
            "integration",
            "integration_name",
            "batch",
            "stream",
            "audit_entry",
            "status",
            "muted_by",
            "attempts",
            "next_attempt_at",
            "last_error",
            "events",
            "subject",
            "idempotency_key",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


class NotificationDetailSerializer(NotificationSerializer):
    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "body"]
        read_only_fields = fields


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """The delivery log. Filters: ``status``, ``policy``, ``integration``, ``batch``, ``event``, ``stream``
    (``policy``, or a SIEM stream: ``audit``, ``events``; SIEM rows have ``stream`` set and no policy).
    ``POST {id}/retry/`` sends a failed notification again. A caller sees the notifications of the response
    policies they see (every row, SIEM streams included, with the Global scope active); others answer 404."""

    filterset_class = NotificationFilter
    permission_classes = [IntegrationPermissions]

    def get_queryset(self):
        queryset = Notification.objects.prefetch_related(
            Prefetch("events", queryset=SecurityEvent.objects.only("id").order_by("id"))
        ).order_by("-created_at", "-id")
        return visible_notifications(visibility_of(self.request), queryset)

    def get_serializer_class(self):
        return NotificationDetailSerializer if self.action == "retrieve" else NotificationSerializer

    @extend_schema(
        request=None, responses={200: NotificationSerializer, 409: OpenApiResponse(description="Not failed")}
    )
    @action(detail=True, methods=["post"], permission_classes=[IntegrationPermissions])
    def retry(self, request, pk=None):
        notification = self.get_object()
        if not services.retry(request, notification):
            return Response(
                {
                    "detail": f"Only a failed notification can be retried; this one is "
                    f"{notification.get_status_display().lower()}."
                },
                status=status.HTTP_409_CONFLICT,
            )
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification, context=self.get_serializer_context()).data)


def register(router) -> None:
    """Register this app's viewsets on the project router."""
    router.register("integrations", IntegrationViewSet, basename="integration")
    router.register("notifications", NotificationViewSet, basename="notification")
