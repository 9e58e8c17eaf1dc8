"""Which notifications a person sees: those of the response policies their scopes show them (issue 10 §3).

The policies app sits above this one, so the policy rows are reached through the ``policy`` relation, never by
import. A notification counts as visible when its policy has one of the person's active scopes or was written by
someone sharing one of their role groups (the KCS rules of policy visibility, :mod:`kcs.visibility`).
Notifications without a policy (a deleted policy's, a SIEM stream's) are seen only by an unrestricted person.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kcs.visibility import Visibility
from notifications.models import Notification


def visible_notifications(visibility: Visibility) -> QuerySet:
    """The notifications ``visibility`` shows (every one for an unrestricted person)."""
    if visibility.unrestricted:
        return Notification.objects.all()
    policy_model = Notification._meta.get_field("policy").related_model
    seen = Q(scopes__in=visibility.active_ids)
    if visibility.group_ids:
        seen |= Q(created_by__groups__in=visibility.group_ids)
    # A subquery: joining the policies' scopes and their authors' groups would repeat each notification.
    return Notification.objects.filter(policy__in=policy_model.objects.filter(seen).values("pk"))
