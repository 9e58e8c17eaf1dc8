"""REST API of the policies app: ``/api/v1/response-policies/`` and ``/api/v1/scopes/``.

Serializers only parse JSON into Python values; :mod:`policies.services` applies the same rules as the screens,
writes in one transaction with the security event log entry, and its refusals become 400s with field messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters, serializers, viewsets

from events.models import Severity
from kcs.permissions import view_manage_permissions
from kcs.rights import MANAGE_SCOPES, VIEW_SCOPES
from kcs.visibility import visibility_of
from notifications.models import NotificationIntegration
from policies import services
from policies.models import ResponsePolicy, Scope, Trigger
from policies.permissions import ResponsePolicyPermissions
from policies.queries import visible_policies, visible_scopes
from policies.validation import MethodChoice, ProtectedObject, ValidationFailed


def refusal(exc: ValidationFailed | ProtectedObject) -> serializers.ValidationError:
    """A service's refusal as a DRF 400 in the project's error shape."""
    if isinstance(exc, ProtectedObject):
        message = str(exc)
        return serializers.ValidationError({"detail": message, "errors": {"non_field_errors": [message]}})
    errors = {field: list(messages) for field, messages in exc.errors.items()}
    for index, messages in sorted(exc.rows.items()):
        errors.setdefault("notification_methods", []).extend(f"Item {index + 1}: {m}" for m in messages)
    return serializers.ValidationError(errors)


@extend_schema_field({"type": "string", "enum": Severity.slugs(), "nullable": True})
class SeverityField(serializers.Field):
    """A severity as its lower-case slug (``"high"``); null means the trigger's default."""

    def to_representation(self, value: int | None) -> str | None:
        return None if value is None else Severity(value).slug

    def to_internal_value(self, data: Any) -> int:
        try:
            return int(Severity.from_slug(str(data).lower()))
        except KeyError:
            raise serializers.ValidationError(
                f"“{data}” is not a severity. Use one of: {', '.join(Severity.slugs())}."
            ) from None


@extend_schema_field(
    {
        "type": "array",
        "description": "Integration ids in sending order. On input an item may also be "
        '{"integration": id, "kind": "email"} to have the output type checked.',
        "items": {"type": "integer"},
    }
)
class NotificationMethodsField(serializers.Field):
    """The policy's outputs as integration ids, in order; ``{"integration", "kind"}`` objects are accepted too."""

    def to_representation(self, methods) -> list[int]:
        return [method.integration_id for method in methods.all()]

    def to_internal_value(self, data: Any) -> list[MethodChoice]:
        if not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of integration ids.")
        wanted: list[tuple[Any, str | None]] = []
        for item in data:
            if isinstance(item, dict):
                wanted.append((item.get("integration"), item.get("kind") or item.get("type")))
            else:
                wanted.append((item, None))
        ids = [ident for ident, _ in wanted]
        if not all(isinstance(ident, int) and not isinstance(ident, bool) for ident in ids):
            raise serializers.ValidationError("Each item must be an integration id (an integer).")
        found = NotificationIntegration.objects.in_bulk(ids)
        missing = [ident for ident in ids if ident not in found]
        if missing:
            raise serializers.ValidationError(
                f"No integration with id {', '.join(str(i) for i in dict.fromkeys(missing))}."
            )
        return [MethodChoice(found[ident], kind) for ident, kind in wanted]


class ServiceWritesMixin:
    """Serializer writes go through a service (``create_with(request, values)``, ``update_with(request, obj,
    values)``); its refusals (:class:`ValidationFailed`, :class:`ProtectedObject`) become 400s."""

    create_with: Callable
    update_with: Callable

    def create(self, validated_data: dict):
        try:
            return type(self).create_with(self.context["request"], validated_data)
        except (ValidationFailed, ProtectedObject) as exc:
            raise refusal(exc) from None

    def update(self, instance, validated_data: dict):
        try:
            return type(self).update_with(self.context["request"], instance, validated_data)
        except (ValidationFailed, ProtectedObject) as exc:
            raise refusal(exc) from None


class ResponsePolicySerializer(ServiceWritesMixin, serializers.ModelSerializer):
    scopes = serializers.PrimaryKeyRelatedField(many=True, queryset=Scope.objects.all())
    trigger = serializers.ChoiceField(choices=Trigger.choices)
    min_severity = SeverityField(required=False, allow_null=True)
    notification_methods = NotificationMethodsField()
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="null when that account was deleted"
    )

    class Meta:
        model = ResponsePolicy
        fields = [
            "id",
            "name",
            "description",
            "enabled",
            "scopes",
            "trigger",
            "min_severity",
            "notification_methods",
            "repeat_interval",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # Name uniqueness (ignoring case) is a shared rule of policies.validation, applied by the service.
        extra_kwargs = {"name": {"validators": []}}

    create_with = staticmethod(services.create_policy)
    update_with = staticmethod(services.update_policy)


class ResponsePolicyViewSet(viewsets.ModelViewSet):
    """Response policies. ``PATCH {"enabled": false}`` disables one; ``?search=`` finds by part of the name.

    Reading needs *view response policy*; every write needs *manage response policy settings*. A caller sees the
    policies KCS's rules show them (written by someone in one of their roles, or using one of their scopes; all
    with the Global scope); others answer 404. A policy seen only because it touches one of their scopes while
    covering others is read-only: a write answers 403. A policy may be given only scopes the caller holds.
    """

    serializer_class = ResponsePolicySerializer
    permission_classes = [ResponsePolicyPermissions]
    filter_backends = [DjangoFilterBackend, filters.SearchFilter, filters.OrderingFilter]
    filterset_fields = ["enabled", "trigger"]
    search_fields = ["name"]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self):
        return visible_policies(visibility_of(self.request))

    def perform_destroy(self, instance: ResponsePolicy) -> None:
        services.delete_policy(self.request, instance)


def _patterns() -> serializers.ListField:
    # Checked (trimmed, de-duplicated, no spaces, length) by policies.validation like the screen's input.
    return serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)


class ScopeSerializer(ServiceWritesMixin, serializers.ModelSerializer):
    clusters = _patterns()
    namespaces = _patterns()
    registries = _patterns()
    repositories = _patterns()

    class Meta:
        model = Scope
        fields = ["id", "name", "description", "is_global", "clusters", "namespaces", "registries", "repositories"]
        read_only_fields = ["is_global"]
        extra_kwargs = {"name": {"validators": []}}

    create_with = staticmethod(services.create_scope)
    update_with = staticmethod(services.update_scope)


class ScopeViewSet(viewsets.ModelViewSet):
    """Scopes (sets of resources by glob patterns). A caller sees the scopes they hold (every scope when they hold
    the Global scope, which needs *view the Global scope*); others answer 404. The built-in Global scope cannot be
    changed or deleted. Reading needs *view scopes*, every write *manage scopes*."""

    serializer_class = ScopeSerializer
    permission_classes = [view_manage_permissions(VIEW_SCOPES, MANAGE_SCOPES)]
    filter_backends = [filters.SearchFilter]
    search_fields = ["name"]

    def get_queryset(self):
        return visible_scopes(visibility_of(self.request), Scope.objects.order_by("-is_global", "name"))

    def perform_destroy(self, instance: Scope) -> None:
        try:
            services.delete_scope(self.request, instance)
        except ProtectedObject as exc:
            raise refusal(exc) from None


def register(router) -> None:
    """Register this app's viewsets on the project router."""
    router.register("response-policies", ResponsePolicyViewSet, basename="response-policy")
    router.register("scopes", ScopeViewSet, basename="scope")
