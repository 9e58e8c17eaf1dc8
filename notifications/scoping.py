"""What a person sees of the delivery log: the notifications of the response policies they see (issue 10).

Policies sit above notifications, so the policy model is reached through the relation and KCS's rules come from
:func:`kcs.visibility.policy_q`; a person whose active scopes include Global sees every row, SIEM stream rows
(which have no policy) included.
"""

from __future__ import annotations

from django.db.models import QuerySet

from kcs.visibility import Visibility, policy_model, policy_q
from notifications.models import Notification


def visible_policies(visibility: Visibility) -> QuerySet:
    """The response policies the person sees (all when unrestricted)."""
    return policy_model()._default_manager.filter(policy_q(visibility))


def visible_notifications(visibility: Visibility, queryset: QuerySet[Notification]) -> QuerySet[Notification]:
    """``queryset`` narrowed to the notifications of policies the person sees; one outside answers 404 as it is not
    in here. One ``IN (sub-query)``: no join, so no duplicate rows and a constant number of queries."""
    if visibility.unrestricted:
        return queryset
    return queryset.filter(policy__in=visible_policies(visibility).values("pk"))


def visible_policy_names(visibility: Visibility, names: list[str]) -> list[str]:
    """Those of the policy ``names`` (unique) the person sees, in their order (one query when restricted)."""
    if visibility.unrestricted or not names:
        return names
    seen = set(visible_policies(visibility).filter(name__in=names).values_list("name", flat=True))
    return [name for name in names if name in seen]
