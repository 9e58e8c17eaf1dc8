"""The decision trace: why a stored event did (or did not) notify, policy by policy.

For every enabled policy whose trigger covers the event's type, one :class:`Decision`. The engine's own verdict
(:meth:`policies.engine.PolicyIndex.explain`: matched, below its threshold, out of its scopes) comes from the same
tests that decided delivery; what evaluation did after matching is read from what it stored, the notification
rows of the event:

- a message pending, sent or failed → ``matched``, with that notification;
- a *suppressed* row → ``suppressed``, with the earlier notification whose repeat interval it fell in;
- a *muted* row → ``accepted`` or ``silenced``, with the risk acceptance or silence that muted it (its
  ``muted_by`` reference, :mod:`policies.muting`).

A policy that left no row and was created or changed after the event was evaluated is ``policy_changed``: the
engine's verdict on it today says nothing about what happened then (its reason still gives today's verdict).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.models import SecurityEvent
from kcs.visibility import Visibility, policy_q
from notifications.models import Notification, NotificationStatus
from policies.engine import Explanation, Verdict
from policies.index_cache import get_index
from policies.models import ResponsePolicy
from policies.muting import ACCEPTANCE, parse_reference

# Rows that stand for a message (whatever became of its delivery).
MESSAGE_STATUSES = (
    NotificationStatus.PENDING,
    NotificationStatus.SENDING,
    NotificationStatus.SENT,
    NotificationStatus.FAILED,
)


@dataclass
class Decision:
    """One policy's verdict on one event, with what it refers to."""

    policy_id: int
    policy_name: str
    verdict: Verdict
    reason: str
    notification: Notification | None = None
    acceptance: int | None = None  # the id of the risk acceptance that muted it
    silence: int | None = None  # the id of the silence that muted it

    def as_dict(self) -> dict:
        return {
            "policy": self.policy_id,
            "policy_name": self.policy_name,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "notification": self.notification.pk if self.notification else None,
            "acceptance": self.acceptance,
            "silence": self.silence,
        }


def trace(event: SecurityEvent, visibility: Visibility | None = None) -> list[Decision]:
    """The decisions about ``event`` of every enabled policy whose trigger covers its type (by policy name);
    with ``visibility``, of the policies that person sees only (:func:`kcs.visibility.policy_q`)."""
    explanations = get_index().explain(event)
    if explanations and visibility is not None and not visibility.unrestricted:
        ids = [explanation.policy.id for explanation in explanations]
        seen = set(ResponsePolicy.objects.filter(policy_q(visibility), pk__in=ids).values_list("pk", flat=True))
        explanations = [explanation for explanation in explanations if explanation.policy.id in seen]
    if not explanations:
        return []
    rows: dict[int, list[Notification]] = {}
    for notification in (
        # The event's own rows (a handful), not a filter by thousands of policy ids.
        Notification.objects.filter(events=event).order_by("created_at", "id")
    ):
        rows.setdefault(notification.policy_id, []).append(notification)
    return [_decide(event, explanation, rows.get(explanation.policy.id, [])) for explanation in explanations]


def _decide(event: SecurityEvent, explanation: Explanation, notifications: list[Notification]) -> Decision:
    policy = explanation.policy
    decision = Decision(policy.id, policy.name, explanation.verdict, explanation.reason)
    messages = [n for n in notifications if n.status in MESSAGE_STATUSES]
    if messages:
        first = messages[0]
        decision.verdict, decision.notification = Verdict.MATCHED, first
        decision.reason = f"{explanation.reason} Notified through {_output(first)}: {first.get_status_display()}."
        if len(messages) > 1:
            decision.reason = decision.reason[:-1] + f" (and {len(messages) - 1} more output(s))."
        return decision
    for notification in notifications:
        muted_by = parse_reference(notification.muted_by) if notification.status == NotificationStatus.MUTED else None
        if muted_by is None:
            continue
        kind, pk = muted_by
        decision.notification = notification
        if kind == ACCEPTANCE:
            decision.verdict, decision.acceptance = Verdict.ACCEPTED, pk
            decision.reason = f"The risk was accepted (risk acceptance #{pk}): nothing is sent while it is active."
        else:
            decision.verdict, decision.silence = Verdict.SILENCED, pk
            decision.reason = f"Muted by silence #{pk}: nothing is sent for its matches while it is active."
        return decision
    suppressed = [n for n in notifications if n.status == NotificationStatus.SUPPRESSED]
    if suppressed:
        row = suppressed[0]
        earlier = _earlier_message(event, row)
        decision.verdict, decision.notification = Verdict.SUPPRESSED, earlier or row
        when = f" on {earlier.created_at:%Y-%m-%d %H:%M %Z}" if earlier else ""
        decision.reason = (
            f"Already notified through {_output(row)}{when}; repeats stay quiet for the policy's repeat interval "
            f"({_duration(policy.repeat_interval)})."
        )
        return decision
    changed_at = policy.changed_at
    if event.evaluated_at is not None and changed_at is not None and changed_at > event.evaluated_at:
        decision.verdict = Verdict.POLICY_CHANGED
        decision.reason = (
            f"The policy was created or changed on {changed_at:%Y-%m-%d %H:%M %Z}, after this event was evaluated "
            f"on {event.evaluated_at:%Y-%m-%d %H:%M %Z}. As it is now: {explanation.verdict} — {explanation.reason}"
        )
        return decision
    if explanation.verdict == Verdict.MATCHED:
        if event.evaluated_at is None:
            decision.reason = f"{explanation.reason} Not evaluated yet: the message is on its way."
        else:
            decision.reason = (
                f"{explanation.reason} No message is stored: the policy had no enabled output then, "
                "or the record was purged by retention."
            )
    return decision


def _earlier_message(event: SecurityEvent, suppressed: Notification) -> Notification | None:
    """The message (same policy and output, same finding) whose repeat interval the suppressed row fell in."""
    return (
        Notification.objects.filter(
            policy_id=suppressed.policy_id,
            integration_id=suppressed.integration_id,
            status__in=MESSAGE_STATUSES,
            events__fingerprint=event.fingerprint,
            created_at__lte=suppressed.created_at,
        )
        .exclude(pk=suppressed.pk)
        .order_by("-created_at", "-id")
        .first()
    )


def _output(notification: Notification) -> str:
    return f"“{notification.integration_name or notification.integration_id}”"


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0 and seconds:
        return f"{seconds // 86400} d"
    if seconds % 3600 == 0 and seconds:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds:
        return f"{seconds // 60} min"
    return f"{seconds} s"
