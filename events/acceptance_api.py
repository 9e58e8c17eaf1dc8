"""REST API of risk acceptances: ``/api/v1/risk-acceptances/`` (accept, list with filters, read one) and its
``{id}/cancel/`` and ``{id}/extend/`` actions.

The bodies are checked by :mod:`events.acceptance_rules` (as on the screens and in the admin) and written by
:mod:`events.acceptances`; the serializers here describe the JSON for the OpenAPI schema and shape the answers.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from events import acceptances
from events.acceptance_filters import AcceptanceFilter, sort_acceptances, visible_acceptances
from events.acceptance_rules import PERIOD_DAYS_MAX, AcceptanceRefused
from events.models import ACCEPTABLE_TYPES, AcceptanceState, Extent, RiskAcceptance, Severity
from events.permissions import RiskAcceptancePermissions
from kcs.visibility import visibility_of


def refusal(exc: AcceptanceRefused) -> serializers.ValidationError:
    """A refused change as a 400 in the API's error shape, naming each field and its rule."""
    return serializers.ValidationError({"detail": exc.detail, "errors": exc.errors})


class RiskAcceptanceSerializer(serializers.ModelSerializer):
    state = serializers.SerializerMethodField()
    severity = serializers.SerializerMethodField(help_text="The worst severity stored for the finding when accepted")
    accepted_by = serializers.CharField(source="accepted_by_name")
    cancelled_by = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: unlimited")

    class Meta:
        model = RiskAcceptance
        fields = [
            "id",
            "type",
            "finding_id",
            "extent",
            "registry",
            "repository",
            "digest",
            "tag",
            "reason",
            "severity",
            "state",
            "accepted_by",
            "accepted_at",
            "expires_at",
            "cancelled_by",
            "cancelled_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "string", "enum": AcceptanceState.values})
    def get_state(self, acceptance: RiskAcceptance) -> str:
        return acceptance.state

    @extend_schema_field({"type": "string", "enum": Severity.slugs(), "nullable": True})
    def get_severity(self, acceptance: RiskAcceptance) -> str | None:
        return acceptance.severity_slug

    @extend_schema_field({"type": "string", "nullable": True})
    def get_cancelled_by(self, acceptance: RiskAcceptance) -> str | None:
        return acceptance.cancelled_by_name if acceptance.cancelled_at else None


class PeriodSerializer(serializers.Serializer):
    """The end of an acceptance: one of ``period_days`` (from now), ``expires_at`` or ``unlimited``."""

    period_days = serializers.IntegerField(
        min_value=1, max_value=PERIOD_DAYS_MAX, required=False, help_text="Days from now"
    )
    expires_at = serializers.DateTimeField(required=False, help_text="ISO 8601, in the future")
    unlimited = serializers.BooleanField(required=False, help_text="true: no end")


class RiskAcceptanceInputSerializer(PeriodSerializer):
    """What ``POST /api/v1/risk-acceptances/`` takes (for the schema; :mod:`events.acceptance_rules` checks it).
    Without a period the acceptance lasts 30 days. Fields the extent does not use are ignored."""

    type = serializers.ChoiceField(choices=[kind.value for kind in ACCEPTABLE_TYPES])
    finding_id = serializers.CharField(max_length=255, help_text="CVE id, malware name, secret rule or check id")
    extent = serializers.ChoiceField(
        choices=Extent.choices,
        help_text="image: registry + repository + digest (or tag when there is no digest); repository: every image "
        "of the repository; all: every image",
    )
    registry = serializers.CharField(max_length=255, required=False, allow_blank=True)
    repository = serializers.CharField(max_length=255, required=False, allow_blank=True)
    digest = serializers.CharField(max_length=100, required=False, allow_blank=True)
    tag = serializers.CharField(max_length=128, required=False, allow_blank=True)
    reason = serializers.CharField(help_text="Why the risk is accepted (required)")


class RiskAcceptanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Risk acceptances: while one is active, no response policy notifies about the events it covers.

    Filters: ``state`` (active, expired, cancelled), ``type``, ``finding_id``, ``repository`` (exact or glob),
    ``search``; ``ordering``: finding, type, severity, accepted, expires (``-`` first for descending).

    Lists the acceptances on images in the caller's active scopes and those on every image (``?scope=<id>``
    selects one scope); one outside is a 404. Accepting is limited to images and repositories in those scopes;
    every image needs the Global scope.
    """

    serializer_class = RiskAcceptanceSerializer
    permission_classes = [RiskAcceptancePermissions]
    filterset_class = AcceptanceFilter
    queryset = RiskAcceptance.objects.all()

    def get_queryset(self):
        visible = visible_acceptances(visibility_of(self.request))
        queryset, _ = sort_acceptances(visible, self.request.query_params.get("ordering"))
        return queryset

    def _answer(self, acceptance: RiskAcceptance, code: int = status.HTTP_200_OK) -> Response:
        return Response(RiskAcceptanceSerializer(acceptance).data, status=code)

    @extend_schema(
        request=RiskAcceptanceInputSerializer,
        responses={201: RiskAcceptanceSerializer, 200: RiskAcceptanceSerializer},
        description="Accept the risk of a finding on an extent (201). The same finding and extent again updates the "
        "open acceptance (200). Threat types only; malware of High or Critical severity never.",
        examples=[
            OpenApiExample(
                "A CVE in every image of a repository, for 90 days",
                value={
                    "type": "vulnerability",
                    "finding_id": "CVE-2023-0286",
                    "extent": "repository",
                    "registry": "registry.example.com",
                    "repository": "shop/payments",
                    "reason": "Not reachable: the service never parses X.400 addresses. Fix planned in Q1.",
                    "period_days": 90,
                },
                request_only=True,
            )
        ],
    )
    def create(self, request, *args, **kwargs):
        try:
            acceptance, created = acceptances.accept(request, request.data)
        except AcceptanceRefused as exc:
            raise refusal(exc) from None
        return self._answer(acceptance, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses=RiskAcceptanceSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel an active acceptance: its findings notify again when next reported."""
        try:
            acceptance = acceptances.cancel(request, self.get_object())
        except AcceptanceRefused as exc:
            raise refusal(exc) from None
        return self._answer(acceptance)

    @extend_schema(request=PeriodSerializer, responses=RiskAcceptanceSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """Give an active acceptance a new end, later or earlier: ``period_days`` from now, ``expires_at`` or
        ``unlimited``."""
        try:
            acceptance = acceptances.extend(request, self.get_object(), request.data)
        except AcceptanceRefused as exc:
            raise refusal(exc) from None
        return self._answer(acceptance)


def register(router) -> None:
    router.register("risk-acceptances", RiskAcceptanceViewSet, basename="risk-acceptance")
