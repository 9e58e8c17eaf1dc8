"""Read queries of the silence screens and API: state filter, search, what each silence muted, its versions."""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat

from events.models import SecurityEvent
from kcs.visibility import Visibility, policy_q
from notifications.models import Notification, NotificationStatus
from policies.models import ResponsePolicy, Silence, SilenceState
from policies.muting import SILENCE, reference

# The list shows what is in force unless asked otherwise.
CURRENT = "current"
STATE_FILTERS = {
    CURRENT: "Active and pending",
    SilenceState.ACTIVE: "Active",
    SilenceState.PENDING: "Pending",
    SilenceState.EXPIRED: "Expired",
    "all": "All",
}


def in_state(queryset: QuerySet[Silence], state: str, now: datetime) -> QuerySet[Silence]:
    """Silences in ``state`` (a :data:`STATE_FILTERS` key) at ``now``; an unknown state filters nothing."""
    if state == SilenceState.ACTIVE:
        return queryset.filter(starts_at__lte=now, ends_at__gt=now)
    if state == SilenceState.PENDING:
        return queryset.filter(starts_at__gt=now, ends_at__gt=now)
    if state == SilenceState.EXPIRED:
        return queryset.filter(ends_at__lte=now)
    if state == CURRENT:
        return queryset.filter(ends_at__gt=now)
    return queryset


def search(queryset: QuerySet[Silence], text: str) -> QuerySet[Silence]:
    """Silences whose comment or matcher values contain ``text`` (ignoring case), or whose id it is."""
    text = text.strip()
    if not text:
        return queryset
    condition = Q(comment__icontains=text) | Q(matchers_text__icontains=text)
    if text.lstrip("#").isdigit() and len(text) < 19:
        condition |= Q(pk=int(text.lstrip("#")))
    return queryset.annotate(matchers_text=Cast("matchers", CharField())).filter(condition)


def muted_by_expression():
    """The ``muted_by`` value of an outer silence row (``silence:<id>``)."""
    return Concat(Value(f"{SILENCE}:"), Cast(OuterRef("pk"), CharField()), output_field=CharField())


def with_muted_counts(queryset: QuerySet[Silence]) -> QuerySet[Silence]:
    """Each silence with ``muted_count``: the muted notifications it recorded (one sub-query per row, indexed)."""
    counts = (
        Notification.objects.filter(status=NotificationStatus.MUTED, muted_by=muted_by_expression())
        .order_by()
        .values("muted_by")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return queryset.annotate(muted_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0))


def silences_for_list() -> QuerySet[Silence]:
    return with_muted_counts(Silence.objects.select_related("created_by", "replaced_by").order_by("-id"))


def muted_notifications(silence: Silence) -> QuerySet[Notification]:
    return Notification.objects.filter(
        status=NotificationStatus.MUTED, muted_by=reference(SILENCE, silence.pk)
    ).order_by("-created_at", "-id")


def muted_events(silence: Silence) -> QuerySet[SecurityEvent]:
    """The events the silence muted (for any policy), newest first."""
    return SecurityEvent.objects.filter(
        pk__in=Notification.events.through.objects.filter(
            notification__status=NotificationStatus.MUTED, notification__muted_by=reference(SILENCE, silence.pk)
        ).values("securityevent_id")
    ).order_by("-id")


def versions(silence: Silence) -> list[Silence]:
    """Every version of the silence, oldest first (the chain of ``replaces``)."""
    chain = [silence]
    older = silence.replaces
    while older is not None:
        chain.insert(0, older)
        older = older.replaces
    newer = Silence.objects.filter(replaces=silence).first()
    while newer is not None:
        chain.append(newer)
        newer = Silence.objects.filter(replaces=newer).first()
    return chain


def policy_names(silences, visibility: Visibility | None = None) -> dict[int, str]:
    """Names of the policies the given silences name, by id (one query); with ``visibility``, a policy that person
    does not see has an empty name (it exists, but is not theirs to read)."""
    ids = {pk for silence in silences for pk in silence.policies}
    if not ids:
        return {}
    policies = ResponsePolicy.objects.filter(pk__in=ids)
    if visibility is None or visibility.unrestricted:
        return dict(policies.values_list("pk", "name"))
    seen = ExpressionWrapper(policy_q(visibility), output_field=BooleanField())
    return {pk: name if visible else "" for pk, name, visible in policies.values_list("pk", "name", seen)}
