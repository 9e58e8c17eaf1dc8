"""REST API of the noise-control read side: ``GET /api/v1/events/{id}/decisions/`` (why an event did or did not
notify) and ``POST /api/v1/response-policies/preview/`` (what a draft policy would have done). Neither writes."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from events.filters import visible_events
from events.serializers import SecurityEventSerializer
from kcs.visibility import visibility_of
from policies import decisions, preview, services
from policies.api import ResponsePolicySerializer, refusal
from policies.models import ResponsePolicy
from policies.permissions import MANAGE_POLICIES, VIEW_POLICIES
from policies.queries import visible_policies
from policies.validation import ValidationFailed

VIEW_EVENTS = "events.view_securityevent"


class HasRights(BasePermission):
    """An authenticated caller holding every right in the view's ``required_rights``."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perms(view.required_rights))


class DecisionSerializer(serializers.Serializer):
    policy = serializers.IntegerField()
    policy_name = serializers.CharField()
    verdict = serializers.ChoiceField(choices=[v.value for v in decisions.Verdict])
    reason = serializers.CharField()
    notification = serializers.IntegerField(allow_null=True)
    acceptance = serializers.IntegerField(allow_null=True)
    silence = serializers.IntegerField(allow_null=True)


class EventDecisionsView(APIView):
    """Every enabled policy whose trigger covers the event's type, with its verdict and the reason.

    Needs *view security events* and *view response policies*. An event outside the caller's scopes answers 404;
    only the policies they see are listed.
    """

    permission_classes = [HasRights]
    required_rights = (VIEW_EVENTS, VIEW_POLICIES)

    @extend_schema(responses=DecisionSerializer(many=True), operation_id="events_decisions")
    def get(self, request, pk: int):
        visibility = visibility_of(request)
        # An event outside the caller's scopes does not exist for them; of the policies, only those they see.
        events = visible_events(request).select_related("batch")
        event = get_object_or_404(events, pk=pk)
        return Response([decision.as_dict() for decision in decisions.trace(event, visibility)])


class PreviewInputSerializer(ResponsePolicySerializer):
    """The create body of a response policy (its name optional) plus ``days`` and, to compare with the saved
    version, ``policy``."""

    days = serializers.IntegerField(required=False, default=preview.DEFAULT_DAYS, help_text="1, 7 or 30")
    policy = serializers.PrimaryKeyRelatedField(
        queryset=ResponsePolicy.objects.all(), required=False, allow_null=True, help_text="the saved policy edited"
    )

    class Meta(ResponsePolicySerializer.Meta):
        fields = [*ResponsePolicySerializer.Meta.fields, "days", "policy"]
        extra_kwargs = {"name": {"validators": [], "required": False}}


def _figures(name: str) -> serializers.Serializer:
    day = inline_serializer(
        f"{name}Day",
        {
            "date": serializers.DateField(),
            "events": serializers.IntegerField(),
            "notifications": serializers.IntegerField(),
        },
        many=True,
    )
    return inline_serializer(
        name,
        {
            "events_matched": serializers.IntegerField(),
            "notifications": serializers.IntegerField(),
            "muted": serializers.IntegerField(),
            "suppressed": serializers.IntegerField(),
            "outputs": serializers.IntegerField(),
            "per_day": day,
            "worst": SecurityEventSerializer(many=True),
        },
    )


class PolicyPreviewView(APIView):
    """What the draft policy would have done over the stored events of the last ``days`` (1, 7 or 30): events
    matched, notifications sent (batching, repeat interval, risk acceptances and silences applied), counts per day,
    the 10 worst matched events, and the saved version's figures when ``policy`` names it. Writes nothing.

    Needs *manage response policies* (it is the policy form's Preview button). The draft may use only scopes the
    caller holds (plus those the saved ``policy`` already has), and ``policy`` must be one they see.
    """

    permission_classes = [HasRights]
    required_rights = (MANAGE_POLICIES,)

    @extend_schema(
        request=PreviewInputSerializer, responses=_figures("PolicyPreview"), operation_id="response_policies_preview"
    )
    def post(self, request):
        visibility = visibility_of(request)
        serializer = PreviewInputSerializer(data=request.data, context={"request": request})
        # A saved policy the caller does not see is no policy at all (the same "does not exist" as a wrong id).
        serializer.fields["policy"].queryset = visible_policies(visibility, ResponsePolicy.objects.all())
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        days, policy = values.pop("days"), values.pop("policy", None)
        try:
            result = services.preview_policy(values, days, policy, visibility)
        except ValidationFailed as exc:
            raise refusal(exc) from None
        return Response(serialize_preview(result))


def serialize_preview(result: dict) -> dict:
    """The preview's figures as JSON (events as the events API shows them)."""

    def figures(part: dict) -> dict:
        return {
            **{key: part[key] for key in ("events_matched", "notifications", "muted", "suppressed", "outputs")},
            "per_day": [{**day, "date": day["date"].isoformat()} for day in part["per_day"]],
            "worst": SecurityEventSerializer(part["worst"], many=True).data,
        }

    output = figures(result) | {"days": result["days"]}
    output["saved"] = figures(result["saved"]) if result["saved"] else None
    return output


# Mounted by kcs.api before the router's routes, so ``response-policies/preview/`` is not read as a policy id.
urlpatterns = [
    path("events/<id:pk>/decisions/", EventDecisionsView.as_view(), name="event-decisions"),
    path("response-policies/preview/", PolicyPreviewView.as_view(), name="response-policy-preview"),
]
