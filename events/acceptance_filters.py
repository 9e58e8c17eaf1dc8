"""Filters, search and sorting of risk acceptances, shared by the API and the Risk acceptance screen, and which
acceptances a person sees."""

from __future__ import annotations

import django_filters
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from events.filters import by_repository
from events.models import ACCEPTABLE_TYPES, AcceptanceState, Extent, RiskAcceptance
from kcs.visibility import Visibility

# Where a risk acceptance keeps what a scope constrains (visibility.resource_q's fields): it has no cluster or
# namespace, so a scope's clusters and namespaces do not narrow acceptances.
ACCEPTANCE_FIELDS = {"registry": "registry", "repository": "repository"}

TYPE_CHOICES = [(kind.value, kind.label) for kind in ACCEPTABLE_TYPES]
# Sort keys of the screen (and the API's ``ordering``): column → order_by fields; "-key" reverses.
SORTS = {
    "finding": ("finding_id", "id"),
    "type": ("type", "finding_id", "id"),
    "severity": ("severity", "finding_id", "id"),
    "accepted": ("accepted_at", "id"),
    "expires": ("expires_at", "id"),
}
DEFAULT_SORT = "-accepted"


def visible_acceptances(visibility: Visibility | None) -> QuerySet:
    """The risk acceptances ``visibility`` shows: those whose registry and repository lie in an active scope, and
    those covering every image (they hold back notifications about everyone's images). Every acceptance for None
    (code acting for nobody in particular) or an unrestricted person."""
    in_scope = Q() if visibility is None else visibility.resource_q(ACCEPTANCE_FIELDS)
    if not in_scope:  # unrestricted, or scopes that constrain no image (clusters only): every acceptance
        return RiskAcceptance.objects.all()
    return RiskAcceptance.objects.filter(in_scope | Q(extent=Extent.ALL))


class AcceptanceFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=AcceptanceState.choices, method="filter_state")
    type = django_filters.ChoiceFilter(choices=TYPE_CHOICES)
    finding_id = django_filters.CharFilter(label="Finding (CVE, malware, rule…)")
    repository = django_filters.CharFilter(method="filter_repository", help_text="Exact name or glob, e.g. team-*/api")
    search = django_filters.CharFilter(method="filter_search", label="Finding, repository or reason contains")

    class Meta:
        model = RiskAcceptance
        fields: list[str] = []

    def filter_state(self, queryset, name, value):
        return queryset.in_state(value, timezone.now())

    def filter_repository(self, queryset, name, value):
        return by_repository(queryset, value)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(finding_id__icontains=value) | Q(repository__icontains=value) | Q(reason__icontains=value)
        )


def sort_acceptances(queryset, sort: str | None):
    """``queryset`` in the order ``sort`` names (a key of :data:`SORTS`, "-" first for descending); returns the
    queryset and the sort applied (the default for an unknown one). Unlimited acceptances sort as the latest."""
    key = (sort or "").lstrip("-")
    if key not in SORTS:
        sort, key = DEFAULT_SORT, DEFAULT_SORT.lstrip("-")
    if sort.startswith("-"):
        return queryset.order_by(*(F(name).desc(nulls_first=True) for name in SORTS[key])), sort
    return queryset.order_by(*(F(name).asc(nulls_last=True) for name in SORTS[key])), sort
