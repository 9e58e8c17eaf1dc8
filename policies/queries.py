"""Read queries of the policy screens and API: listing with search and sort in a constant number of queries, and
what a person sees of policies and scopes (KCS's rules, :func:`kcs.visibility.policy_q`)."""

from __future__ import annotations

from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, QuerySet, Value

from kcs.visibility import Visibility, editable_policy_q, policy_q
from notifications.models import NotificationIntegration
from policies.models import NotificationMethod, ResponsePolicy, Scope

# Sort keys offered by the Response policies table → ORDER BY (name last, so pages are stable).
POLICY_SORTS = {
    "name": ("name",),
    "trigger": ("trigger", "name"),
    "status": ("-enabled", "name"),
    "created_by": ("created_by__username", "name"),
    "updated": ("-updated_at", "name"),
}


# What the policy screens and API read of a policy's notification methods and their integrations.
METHOD_FIELDS = ("policy", "position", "integration__name", "integration__kind", "integration__enabled")


def policies_with_relations() -> QuerySet[ResponsePolicy]:
    """Policies with their creator, scopes and integrations loaded in three queries, whatever their number."""
    return ResponsePolicy.objects.select_related("created_by").prefetch_related(
        Prefetch("scopes", queryset=Scope.objects.only("id", "name", "is_global")),
        Prefetch(
            "notification_methods",
            # Only what the screens show of an integration: its config (message templates) and secrets can weigh
            # kilobytes each, decoded for nothing on every page.
            queryset=NotificationMethod.objects.select_related("integration")
            .only(*METHOD_FIELDS)
            .order_by("position", "id"),
        ),
    )


def visible_policies(
    visibility: Visibility, queryset: QuerySet[ResponsePolicy] | None = None
) -> QuerySet[ResponsePolicy]:
    """The policies of ``queryset`` (default: all, with their relations) the person sees, each with ``editable``:
    whether they may change it (given the manage right). A policy outside answers 404 as it is not in here."""
    queryset = policies_with_relations() if queryset is None else queryset
    editable = editable_policy_q(visibility)
    flag = ExpressionWrapper(editable, output_field=BooleanField()) if editable else Value(True)
    return queryset.filter(policy_q(visibility)).annotate(editable=flag)


def search_policies(queryset: QuerySet[ResponsePolicy], text: str) -> QuerySet[ResponsePolicy]:
    """Policies whose name contains ``text`` (ignoring case); all for an empty text."""
    text = (text or "").strip()
    return queryset.filter(name__icontains=text) if text else queryset


def sort_policies(queryset: QuerySet[ResponsePolicy], sort: str) -> tuple[QuerySet[ResponsePolicy], str]:
    """Order by one of :data:`POLICY_SORTS` (``-key`` reverses it); returns the queryset and the key applied."""
    key = (sort or "name").strip()
    descending = key.startswith("-")
    fields = POLICY_SORTS.get(key.lstrip("-"))
    if fields is None:
        return queryset.order_by(*POLICY_SORTS["name"]), "name"
    if descending:
        first = fields[0][1:] if fields[0].startswith("-") else f"-{fields[0]}"
        fields = (first, *fields[1:])
    return queryset.order_by(*fields), key


def visible_scopes(visibility: Visibility, scopes: QuerySet[Scope]) -> QuerySet[Scope]:
    """The scopes a person sees in scope lists: the ones they hold (Global only when held, and holding Global
    means holding every scope). Others answer 404."""
    return scopes if visibility.holds_global else scopes.filter(pk__in=visibility.held_ids)


def scopes_with_usage() -> QuerySet[Scope]:
    """Scopes with the number of policies using each (one query)."""
    return Scope.objects.annotate(policy_count=Count("policies")).order_by("-is_global", "name")


def policy_names_using(integration: NotificationIntegration) -> list[str]:
    """Names of the policies that send through ``integration`` (registered in notifications by PoliciesConfig)."""
    return list(
        ResponsePolicy.objects.filter(notification_methods__integration=integration)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )
