"""``/api/v1/users/`` and ``/api/v1/roles/``: access management over the API.

Serializers only parse JSON; :mod:`kcs.users` and :mod:`kcs.roles` apply the screens' rules and write with the
security event log entry, and their refusals become 400s naming the field. Reading needs *view users and roles*,
every write *manage users and roles*.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import filters, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kcs import roles as role_service
from kcs import users as user_service
from kcs.models import Role
from kcs.permissions import view_manage_permissions
from kcs.rights import BY_PERMISSION, MANAGE_ACCESS, VIEW_ACCESS
from kcs.roles import AccessRefused
from kcs.visibility import scope_model

User = get_user_model()
AccessPermissions = view_manage_permissions(VIEW_ACCESS, MANAGE_ACCESS)


def refusal(exc: AccessRefused) -> serializers.ValidationError:
    """A service's refusal as a 400 in the project's error shape."""
    if exc.errors:
        return serializers.ValidationError({field: list(messages) for field, messages in exc.errors.items()})
    return serializers.ValidationError({"detail": exc.detail, "errors": {"non_field_errors": [exc.detail]}})


class ServiceWrites:
    """Writes go through ``create_with(request, values)`` / ``update_with(request, obj, values)``."""

    def create(self, validated_data: dict):
        try:
            return type(self).create_with(self.context["request"], validated_data)
        except AccessRefused as exc:
            raise refusal(exc) from None

    def update(self, instance, validated_data: dict):
        try:
            return type(self).update_with(self.context["request"], instance, validated_data)
        except AccessRefused as exc:
            raise refusal(exc) from None


@extend_schema_field({"type": "array", "items": {"type": "string", "example": "ISOFF"}})
class RoleIdsField(serializers.Field):
    """A user's roles as role IDs."""

    def to_representation(self, groups) -> list[str]:
        return sorted(group.role.role_id for group in groups.all() if hasattr(group, "role"))

    def to_internal_value(self, data: Any) -> list[Role]:
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise serializers.ValidationError('Expected a list of role IDs, e.g. ["ISOFF"].')
        found = {role.role_id: role for role in Role.objects.filter(role_id__in=data).select_related("group")}
        missing = [item for item in data if item not in found]
        if missing:
            raise serializers.ValidationError(f"No role with the ID {', '.join(dict.fromkeys(missing))}.")
        return [found[item] for item in dict.fromkeys(data)]


@extend_schema_field({"type": "array", "items": {"type": "integer"}})
class ScopeIdsField(serializers.Field):
    """Scopes as ids (GET /api/v1/scopes/ lists them)."""

    def to_representation(self, scopes) -> list[int]:
        return sorted(scope.pk for scope in scopes)

    def to_internal_value(self, data: Any) -> list:
        if not isinstance(data, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in data):
            raise serializers.ValidationError("Expected a list of scope ids, e.g. [1, 4].")
        found = scope_model().objects.in_bulk(data)
        missing = [item for item in data if item not in found]
        if missing:
            raise serializers.ValidationError(f"No scope with the id {', '.join(map(str, dict.fromkeys(missing)))}.")
        return [found[item] for item in dict.fromkeys(data)]


class UserScopesField(ScopeIdsField):
    def get_attribute(self, user) -> list:
        profile = user_service.profile_of(user, save=False)
        return list(profile.scopes.all()) if profile.pk else []


class RoleScopesField(ScopeIdsField):
    def get_attribute(self, role) -> list:
        return role_service.scopes_of(role)


class UserSerializer(ServiceWrites, serializers.ModelSerializer):
    display_name = serializers.CharField(required=False, allow_blank=True, source="profile.display_name")
    email = serializers.CharField(required=False, allow_blank=True)
    username = serializers.CharField(validators=[])
    roles = RoleIdsField(source="groups")
    must_change_password = serializers.BooleanField(required=False, source="profile.must_change_password")
    scopes = UserScopesField(
        required=False, help_text="Limit the user to these scopes of their roles (ids); empty: every scope of them."
    )
    password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, style={"input_type": "password"}
    )
    is_active = serializers.BooleanField(required=False)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "display_name",
            "email",
            "roles",
            "is_active",
            "last_login",
            "must_change_password",
            "scopes",
            "password",
        ]
        read_only_fields = ["last_login"]

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values.update(values.pop("profile", {}))
        if "groups" in values:
            values["roles"] = values.pop("groups")
        return values

    def to_representation(self, user):
        user_service.profile_of(user, save=False)  # users made elsewhere may have none yet
        return super().to_representation(user)

    create_with = staticmethod(user_service.create_user)
    update_with = staticmethod(user_service.update_user)


class RightsField(serializers.ListField):
    """A role's rights as ``app_label.codename`` names, in catalog order."""

    def get_attribute(self, role) -> list[str]:
        return role_service.rights_of(role)


class RoleSerializer(ServiceWrites, serializers.ModelSerializer):
    name = serializers.CharField(source="group.name")
    rights = RightsField(
        child=serializers.CharField(),
        help_text="Rights as app_label.codename permission names; GET /api/v1/roles/rights/ lists them.",
    )
    scopes = RoleScopesField(
        required=False,
        help_text="Scope ids the role's members see (a system role covers Global). Giving Global needs the right "
        "kcs.manage_global_scope.",
    )

    class Meta:
        model = Role
        fields = ["id", "role_id", "name", "description", "rights", "scopes", "is_system"]
        read_only_fields = ["is_system"]
        extra_kwargs = {"role_id": {"validators": []}, "description": {"required": False}}

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        values.update(values.pop("group", {}))
        return values

    create_with = staticmethod(role_service.create_role)
    update_with = staticmethod(role_service.update_role)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="Part of the user name (ignoring case)."),
            OpenApiParameter(
                "ordering",
                str,
                enum=[prefix + key for key in user_service.USER_SORTS for prefix in ("", "-")],
                description="Sort by user name (default), display name or first role; - for descending.",
            ),
        ]
    )
)
class UserViewSet(viewsets.ModelViewSet):
    """Users. ``?search=`` finds user names containing the text; ``?ordering=`` takes ``username``,
    ``display_name`` or ``role`` (``-`` for descending). Nobody deletes or deactivates themselves, nor the last
    active user who can manage users and roles (400 saying so)."""

    serializer_class = UserSerializer
    permission_classes = [AccessPermissions]
    filter_backends = []

    def get_queryset(self):
        ordering = self.request.query_params.get("ordering")
        users, _ = user_service.users_for_list(self.request.query_params.get("search", "").strip(), ordering)
        return users

    def perform_destroy(self, instance) -> None:
        try:
            user_service.delete_user(self.request, instance)
        except AccessRefused as exc:
            raise refusal(exc) from None

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(
                "TemporaryPassword", {"username": serializers.CharField(), "password": serializers.CharField()}
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="reset-password")
    def reset_password(self, request, pk=None):
        """Give the user a temporary password (in the answer, once); they must change it at their next sign-in."""
        user = self.get_object()
        return Response({"username": user.username, "password": user_service.reset_password(request, user)})


class RoleViewSet(viewsets.ModelViewSet):
    """Roles and their rights. System roles cannot be changed or deleted; the last role that lets an active user
    manage users and roles can neither be deleted nor lose that right (400 saying so)."""

    serializer_class = RoleSerializer
    permission_classes = [AccessPermissions]
    filter_backends = [filters.SearchFilter]
    search_fields = ["group__name", "role_id"]

    def get_queryset(self):
        return Role.objects.select_related("group").order_by("group__name")

    def perform_destroy(self, instance) -> None:
        try:
            role_service.delete_role(self.request, instance)
        except AccessRefused as exc:
            raise refusal(exc) from None

    @extend_schema(
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "Right",
                    {
                        "right": serializers.CharField(),
                        "area": serializers.CharField(),
                        "label": serializers.CharField(),
                    },
                    many=True,
                )
            )
        }
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def rights(self, request):
        """The rights a role can hold (those that exist in this installation), in the form's order."""
        return Response(
            [
                {"right": name, "area": BY_PERMISSION[name].area, "label": BY_PERMISSION[name].label}
                for name in role_service.available_rights()
            ]
        )


def register(router) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("roles", RoleViewSet, basename="role")
