"""REST API of the notifications app: ``/api/v1/integrations/`` (+ ``test``) and ``/api/v1/notifications/``
(+ ``retry``).

An integration's ``config`` and ``secrets`` are validated by the same per-kind form as the screens use;
``secrets`` are write-only (answers show ``"********"`` for each stored one). Deleting an integration a policy
still uses answers 409 naming the policies.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from events.models import SecurityEvent
from kcs.permissions import ModelPermissions
from notifications import services
from notifications.channels import CHANNELS
from notifications.models import IntegrationKind, Notification, NotificationIntegration, NotificationStatus
from notifications.secrets import masked


class ChangeOnPost(ModelPermissions):
    """For actions (Test, Retry): POST needs the *change* right on the model, not *add*."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


def _nest(errors: dict, path: tuple[str, ...], messages: list[str]) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node.setdefault(path[-1], []).extend(messages)


class IntegrationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    enabled = serializers.BooleanField(required=False, default=True)
    config = serializers.DictField(required=False, help_text="Per-kind settings (see the README).")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        help_text="Write-only. Omitted or blank values keep the stored ones; answers show each stored one masked.",
    )
    last_test = serializers.SerializerMethodField()

    class Meta:
        model = NotificationIntegration
        fields = ["id", "name", "kind", "enabled", "config", "secrets", "last_test", "created_at", "updated_at"]
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

    def to_representation(self, instance: NotificationIntegration) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["secrets"] = masked(instance.secrets_encrypted)
        return data

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: NotificationIntegration | None = self.instance
        kind = instance.kind if instance is not None else attrs["kind"]
        if instance is not None and attrs.get("kind", kind) != kind:
            raise serializers.ValidationError({"kind": ["The kind of an integration cannot change."]})
        form_class = CHANNELS[kind].form_class
        config = attrs.get("config", {})
        if instance is not None and self.partial:
            config = {**instance.config, **config}
        secrets = attrs.get("secrets", {})
        errors: dict[str, Any] = {}
        for unknown in sorted(set(config) - set(form_class.config_keys())):
            _nest(errors, ("config", unknown), [f"Unknown setting for {kind}."])
        for unknown in sorted(set(secrets) - set(form_class.secret_fields)):
            _nest(errors, ("secrets", unknown), [f"Unknown secret for {kind}."])
        data = {
            "name": attrs.get("name", instance.name if instance is not None else ""),
            "enabled": attrs.get("enabled", instance.enabled if instance is not None else True),
            **form_class.data_from_config(config),
            **secrets,
        }
        form = services.form_for(kind, data, instance)
        if not form.is_valid():
            for field, messages in form.errors.items():
                _nest(errors, form_class.error_path(field), list(messages))
        if errors:
            raise serializers.ValidationError(errors)
        return {"kind": kind, "form": form}

    def create(self, validated_data: dict[str, Any]) -> NotificationIntegration:
        return services.save_integration(self.context["request"], validated_data["kind"], validated_data["form"])

    def update(self, instance: NotificationIntegration, validated_data: dict[str, Any]) -> NotificationIntegration:
        return services.save_integration(self.context["request"], instance.kind, validated_data["form"], instance)


_test_result = inline_serializer(
    "IntegrationTestResult",
    {
        "ok": serializers.BooleanField(),
        "message": serializers.CharField(),
    },
)


class IntegrationViewSet(viewsets.ModelViewSet):
    """Notification outputs. ``POST {id}/test/`` sends a real test message and answers ``{ok, message}``."""

    queryset = NotificationIntegration.objects.order_by("kind", "name")
    serializer_class = IntegrationSerializer
    filterset_fields = ["kind", "enabled"]

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Used by response policies")})
    def destroy(self, request, *args, **kwargs):
        integration = self.get_object()
        try:
            services.delete_integration(request, integration)
        except services.IntegrationInUse as exc:
            return Response({"detail": str(exc), "policies": exc.policies}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: _test_result})
    @action(detail=True, methods=["post"], permission_classes=[ChangeOnPost])
    def test(self, request, pk=None):
        ok, message = services.send_test(request, self.get_object())
        return Response({"ok": ok, "message": message})


class NotificationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=NotificationStatus.choices)
    event = django_filters.NumberFilter(field_name="events", help_text="Notifications carrying this event id")

    class Meta:
        model = Notification
        fields = ["status", "policy", "integration", "batch", "event"]


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
            "status",
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
    """The delivery log. Filters: ``status``, ``policy``, ``integration``, ``batch``, ``event``.
    ``POST {id}/retry/`` sends a failed notification again."""

    filterset_class = NotificationFilter

    def get_queryset(self):
        return Notification.objects.prefetch_related(
            Prefetch("events", queryset=SecurityEvent.objects.only("id").order_by("id"))
        ).order_by("-created_at", "-id")

    def get_serializer_class(self):
        return NotificationDetailSerializer if self.action == "retrieve" else NotificationSerializer

    @extend_schema(
        request=None, responses={200: NotificationSerializer, 409: OpenApiResponse(description="Not failed")}
    )
    @action(detail=True, methods=["post"], permission_classes=[ChangeOnPost])
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
