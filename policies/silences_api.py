"""``/api/v1/silences/``: silences, through :mod:`policies.silences` like the screens.

A silence is never deleted or changed in place: ``PUT``/``PATCH`` store a new version (a new id, answered) that
replaces the old one and expire the old one; ``DELETE`` and ``POST …/{id}/expire/`` expire it now. Reading needs
*view silence*, every write *manage silences*.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from kcs.permissions import ModelPermissions
from kcs.visibility import visibility_of
from policies import silences
from policies.api import refusal
from policies.models import Silence
from policies.permissions import MANAGE_SILENCES, VIEW_SILENCES
from policies.silence_queries import STATE_FILTERS, in_state, search, with_muted_counts
from policies.silence_rules import MATCHER_FIELDS
from policies.silence_scopes import visible_silences
from policies.validation import ValidationFailed


class SilencePermissions(ModelPermissions):
    """Reading needs *view silence*; any write (create, new version, expire) needs *manage silences*."""

    perms_map = {
        **ModelPermissions.perms_map,
        "GET": [VIEW_SILENCES],
        "HEAD": [VIEW_SILENCES],
        "POST": [MANAGE_SILENCES],
        "PUT": [MANAGE_SILENCES],
        "PATCH": [MANAGE_SILENCES],
        "DELETE": [MANAGE_SILENCES],
    }


@extend_schema_field(
    {
        "type": "object",
        "description": "Event field → value; every one must hold. Globs (case-insensitive) for cluster, namespace, "
        "registry, repository, tag, finding_id; max_severity: a severity slug (the event's is at most this); "
        "title_contains: part of the title.",
        "properties": {name: {"type": "string"} for name in MATCHER_FIELDS},
        "additionalProperties": False,
        "example": {"repository": "shop/*", "max_severity": "high"},
    }
)
class MatchersField(serializers.JSONField):
    """The matcher object as sent: :mod:`policies.silence_rules` checks its fields and values."""


@extend_schema_field({"type": "array", "items": {"type": "integer"}, "description": "Policy ids; empty: every policy"})
class PolicyIdsField(serializers.JSONField):
    """Policy ids as sent: :mod:`policies.silence_rules` checks them."""


class SilenceSerializer(serializers.ModelSerializer):
    matchers = MatchersField()
    policies = PolicyIdsField(required=False)
    starts_at = serializers.DateTimeField(required=False, allow_null=True, help_text="default: now")
    ends_at = serializers.DateTimeField(required=False, allow_null=True, help_text="or give duration")
    duration = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="instead of ends_at: 90m, 4h, 7d, 2w or seconds",
    )
    comment = serializers.CharField(allow_blank=True, trim_whitespace=False, help_text="why (required)")
    state = serializers.SerializerMethodField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    replaced_by = serializers.SerializerMethodField()
    muted_notifications = serializers.IntegerField(source="muted_count", read_only=True, default=0)

    class Meta:
        model = Silence
        fields = [
            "id",
            "matchers",
            "policies",
            "starts_at",
            "ends_at",
            "duration",
            "comment",
            "state",
            "created_by",
            "created_at",
            "expired_at",
            "replaces",
            "replaced_by",
            "muted_notifications",
        ]
        read_only_fields = ["created_at", "expired_at", "replaces"]

    @extend_schema_field({"type": "string", "enum": ["pending", "active", "expired"]})
    def get_state(self, silence: Silence) -> str:
        return silence.state_at(timezone.now())

    @extend_schema_field({"type": "integer", "nullable": True, "description": "the newer version, if any"})
    def get_replaced_by(self, silence: Silence) -> int | None:
        newer = getattr(silence, "replaced_by", None)
        return newer.pk if newer else None

    def create(self, validated_data: dict) -> Silence:
        try:
            return silences.create_silence(self.context["request"], validated_data)
        except ValidationFailed as exc:
            raise refusal(exc) from None

    def update(self, instance: Silence, validated_data: dict) -> Silence:
        try:
            return silences.update_silence(self.context["request"], instance, validated_data)
        except ValidationFailed as exc:
            raise refusal(exc) from None


class SilenceViewSet(viewsets.ModelViewSet):
    """Silences (time-boxed mutes of matching events), newest first. ``?state=active|pending|expired|current``
    filters (``current``: active and pending), ``?search=`` looks in comments and matcher values.

    ``PUT``/``PATCH`` store a new version (answered, with its new id) and expire the old one; ``DELETE`` expires the
    silence (204) and never deletes it: the history of what was silenced stays.

    A caller sees the silences written by someone in one of their roles, limited to a policy they see, or whose
    cluster/namespace/registry/repository matchers lie in an active scope of theirs (a silence without such matchers
    is everyone's); others answer 404. Without the Global scope, a silence must lie inside one of the caller's
    scopes (a 400 naming ``matchers``) and may name only policies they see.
    """

    serializer_class = SilenceSerializer
    permission_classes = [SilencePermissions]
    filter_backends: list = []

    def get_queryset(self):
        queryset = with_muted_counts(Silence.objects.select_related("created_by", "replaced_by").order_by("-id"))
        queryset = visible_silences(visibility_of(self.request), queryset)
        if self.action == "list":
            queryset = in_state(queryset, self.request.query_params.get("state", "all"), timezone.now())
            queryset = search(queryset, self.request.query_params.get("search", ""))
        return queryset

    @extend_schema(
        parameters=[
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(STATE_FILTERS)),
            OpenApiParameter("search", OpenApiTypes.STR, description="part of the comment or of a matcher value"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def update(self, request, *args, **kwargs):
        """Store a new version; the answer is the new silence."""
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        created = serializer.save()
        return Response(self.get_serializer(self.get_queryset().get(pk=created.pk)).data)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = serializer.save()
        return Response(self.get_serializer(self.get_queryset().get(pk=created.pk)).data, status=201)

    @extend_schema(responses={204: None}, description="Expires the silence now (the row is kept).")
    def destroy(self, request, *args, **kwargs):
        silences.expire_silence(request, self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=SilenceSerializer)
    @action(detail=True, methods=["post"])
    def expire(self, request, pk=None):
        """End the silence now (an expired one stays as it is)."""
        silence = self.get_object()
        silences.expire_silence(request, silence)
        return Response(self.get_serializer(self.get_queryset().get(pk=silence.pk)).data)


def register(router) -> None:
    router.register("silences", SilenceViewSet, basename="silence")
