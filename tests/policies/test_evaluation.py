"""Evaluation of a batch: one notification per (policy, integration), repeat suppression, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from events.models import EventBatch, EventType, SecurityEvent, Severity
from notifications.models import Notification, NotificationStatus, RepeatMark
from policies import evaluation
from policies.models import Trigger
from tests.factories import make_batch, make_integration, make_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_over(monkeypatch):
    """How each new notification went to delivery after the commit: ("inline", id) for a first attempt made by the
    evaluating worker itself (stood in for by counting an attempt, as a claim does), ("queued", id) for a
    ``notifications.deliver`` task."""
    calls = []

    def deliver_inline(pk, drain=True, loaded=None, events=None):
        assert drain is False  # queued messages have their own tasks
        if loaded is not None:  # the row as made, with its integration and all its events, saves reading back
            assert loaded.pk == pk and loaded.integration_id == loaded.integration.pk
            assert sorted(e.pk for e in events) == sorted(loaded.events.values_list("pk", flat=True))
        calls.append(("inline", pk))
        Notification.objects.filter(pk=pk).update(attempts=F("attempts") + 1)

    monkeypatch.setattr("notifications.delivery.deliver", deliver_inline)
    monkeypatch.setattr(
        "policies.evaluation.send_now", lambda name, *args, **kw: calls.append(("queued", *args)) or True
    )
    return calls


def evaluate(batch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return evaluation.evaluate_batch(str(batch.id))


def test_disabled_policy_sends_nothing(handed_over, django_capture_on_commit_callbacks):
    make_policy("Off", [make_integration("webhook")], enabled=False)
    batch = make_batch(3)
    result = evaluate(batch, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0 and handed_over == []
    assert result.events == 3
    batch.refresh_from_db()
    assert batch.evaluated_at is not None


def test_two_policies_on_one_event_make_two_notifications(handed_over, django_capture_on_commit_callbacks):
    hook = make_integration("webhook")
    first, second = make_policy("A", [hook]), make_policy("B", [hook])
    evaluate(make_batch(1), django_capture_on_commit_callbacks)
    rows = Notification.objects.order_by("policy_name")
    assert [(n.policy_id, n.integration_id, n.status) for n in rows] == [
        (first.pk, hook.pk, "pending"),
        (second.pk, hook.pk, "pending"),
    ]
    assert handed_over == [("inline", n.pk) for n in rows.order_by("id")]


def test_a_300_finding_batch_is_one_notification_per_policy_and_integration(
    handed_over, django_capture_on_commit_callbacks
):
    hook, chat = make_integration("webhook"), make_integration("telegram")
    make_policy("Critical", [hook, chat])
    batch = make_batch(300)
    evaluate(batch, django_capture_on_commit_callbacks)
    rows = list(Notification.objects.all())
    assert len(rows) == 2 and {n.integration_id for n in rows} == {hook.pk, chat.pk}
    for notification in rows:
        assert notification.events.count() == 300
        assert notification.batch_id == batch.id and notification.integration_name
        assert notification.policy_name == "Critical"


def test_only_matching_events_are_listed(handed_over, django_capture_on_commit_callbacks):
    make_policy("Critical only", [make_integration("webhook")], trigger=Trigger.CRITICAL_VULNERABILITIES)
    batch = make_batch(2)
    low = batch.events.order_by("id").first()
    SecurityEvent.objects.filter(pk=low.pk).update(severity=Severity.LOW)
    make_batch(1, type=EventType.MALWARE)
    evaluate(batch, django_capture_on_commit_callbacks)
    (notification,) = Notification.objects.all()
    assert list(notification.events.values_list("severity", flat=True)) == [Severity.CRITICAL]


def test_disabled_integration_is_skipped(handed_over, django_capture_on_commit_callbacks):
    make_policy("P", [make_integration("webhook", "off", enabled=False), make_integration("slack")])
    evaluate(make_batch(1), django_capture_on_commit_callbacks)
    assert list(Notification.objects.values_list("integration__kind", flat=True)) == ["slack"]


def test_evaluating_twice_creates_nothing_twice(handed_over, django_capture_on_commit_callbacks):
    make_policy("P", [make_integration("webhook")])
    batch = make_batch(5)
    evaluate(batch, django_capture_on_commit_callbacks)
    again = evaluate(batch, django_capture_on_commit_callbacks)
    assert again.events == 0 and Notification.objects.count() == 1 and len(handed_over) == 1


def test_repeat_within_interval_is_recorded_as_suppressed(handed_over, django_capture_on_commit_callbacks):
    hook = make_integration("webhook")
    policy = make_policy("P", [hook], repeat_interval=3600)
    evaluate(make_batch(2), django_capture_on_commit_callbacks)
    second = make_batch(3)  # the same two findings again, and one new
    evaluate(second, django_capture_on_commit_callbacks)
    pending = Notification.objects.get(batch=second, status=NotificationStatus.PENDING)
    suppressed = Notification.objects.get(batch=second, status=NotificationStatus.SUPPRESSED)
    assert pending.events.get().finding_id == "CVE-2024-1002"
    assert sorted(suppressed.events.values_list("finding_id", flat=True)) == ["CVE-2024-1000", "CVE-2024-1001"]
    assert len(handed_over) == 2  # the first batch's and the new finding's, never the suppressed row

    # Once the interval has passed, the same findings are notified again.
    RepeatMark.objects.filter(policy=policy).update(quiet_until=timezone.now() - timedelta(seconds=1))
    third = make_batch(2)
    evaluate(third, django_capture_on_commit_callbacks)
    assert Notification.objects.get(batch=third).status == NotificationStatus.PENDING


def test_repeat_interval_zero_notifies_every_time(handed_over, django_capture_on_commit_callbacks):
    make_policy("Always", [make_integration("webhook")], repeat_interval=0)
    for _ in range(2):
        evaluate(make_batch(1), django_capture_on_commit_callbacks)
    assert list(Notification.objects.values_list("status", flat=True)) == ["pending", "pending"]


def test_repeats_are_counted_per_policy_and_integration(handed_over, django_capture_on_commit_callbacks):
    hook, chat = make_integration("webhook"), make_integration("telegram")
    make_policy("P", [hook])
    evaluate(make_batch(1), django_capture_on_commit_callbacks)
    make_policy("Q", [hook, chat])  # a new policy has not notified anything yet
    second = make_batch(1)
    evaluate(second, django_capture_on_commit_callbacks)
    statuses = {(n.policy_name, n.integration.kind): n.status for n in Notification.objects.filter(batch=second)}
    assert statuses == {("P", "webhook"): "suppressed", ("Q", "webhook"): "pending", ("Q", "telegram"): "pending"}


def test_claim_fingerprints_lets_one_of_two_claims_through():
    hook = make_integration("webhook")
    policy = make_policy("P", [hook])
    now = timezone.now()
    key = (policy.pk, hook.pk, "f" * 64)
    assert evaluation.claim_fingerprints([key], {policy.pk: 60}, now) == {key}
    assert evaluation.claim_fingerprints([key], {policy.pk: 60}, now + timedelta(seconds=30)) == set()
    assert evaluation.claim_fingerprints([key], {policy.pk: 60}, now + timedelta(seconds=61)) == {key}


def test_claim_leaves_marks_still_quiet_untouched_and_claims_the_rest():
    """Keys still quiet are read, not locked or rewritten; expired and new ones are claimed, in one call."""
    hook = make_integration("webhook")
    policy = make_policy("P", [hook])
    now = timezone.now()
    quiet, expired, new = ((policy.pk, hook.pk, name * 64) for name in "qen")
    assert evaluation.claim_fingerprints([quiet, expired], {policy.pk: 60}, now) == {quiet, expired}
    RepeatMark.objects.filter(fingerprint=expired[2]).update(quiet_until=now)  # its quiet period ends at once
    before = RepeatMark.objects.values_list("fingerprint", "notified_at", "quiet_until", "pk")
    later = now + timedelta(seconds=1)
    assert evaluation.claim_fingerprints([new, expired, quiet], {policy.pk: 600}, later) == {expired, new}
    marks = {m.fingerprint: m for m in RepeatMark.objects.all()}
    assert (marks[quiet[2]].notified_at, marks[quiet[2]].quiet_until) == (now, now + timedelta(seconds=60))
    assert (marks[expired[2]].notified_at, marks[expired[2]].quiet_until) == (later, later + timedelta(seconds=600))
    assert marks[new[2]].quiet_until == later + timedelta(seconds=600)
    assert {pk for *_, pk in before} <= {m.pk for m in marks.values()}


def test_first_attempt_is_made_by_the_evaluating_worker_unless_the_output_is_rate_limited(
    handed_over, django_capture_on_commit_callbacks
):
    hook = make_integration("webhook")
    limited = make_integration(
        "webhook", config={"url": "https://hooks.example.com/slow", "auth": "none", "rate_limit": 1}
    )
    make_policy("P", [hook, limited])
    evaluate(make_batch(1), django_capture_on_commit_callbacks)
    by_output = {n.integration_id: n.pk for n in Notification.objects.all()}
    assert handed_over == [("inline", by_output[hook.pk]), ("queued", by_output[limited.pk])]


def test_first_attempts_past_the_time_budget_are_queued(handed_over, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(evaluation, "FAST_PATH_SECONDS", 0.0)
    make_policy("P", [make_integration("webhook")])
    evaluate(make_batch(1), django_capture_on_commit_callbacks)
    assert handed_over == [("queued", Notification.objects.get().pk)]


def test_a_redelivered_evaluation_offers_never_attempted_notifications_again(
    handed_over, monkeypatch, django_capture_on_commit_callbacks
):
    make_policy("P", [make_integration("webhook")])
    batch = make_batch(1)
    # The worker died between the commit and the first attempt: the row is pending and was never claimed.
    with django_capture_on_commit_callbacks(execute=False):
        evaluation.evaluate_batch(str(batch.id))
    notification = Notification.objects.get()
    assert handed_over == [] and notification.attempts == 0
    evaluate(batch, django_capture_on_commit_callbacks)  # the task message comes back (acks_late)
    assert handed_over == [("inline", notification.pk)]
    evaluate(batch, django_capture_on_commit_callbacks)  # attempted now: nothing more to offer
    assert handed_over == [("inline", notification.pk)] and Notification.objects.count() == 1


def test_sweep_requeues_batches_never_evaluated(monkeypatch):
    queued = []
    monkeypatch.setattr("policies.evaluation.send_now", lambda name, *args, **kw: queued.append((name, *args)) or True)
    lost = make_batch(1, received_at=timezone.now() - timedelta(minutes=5))
    make_batch(1)  # just received: its evaluation task is surely still on its way
    assert evaluation.sweep() == 1
    assert queued == [("policies.evaluate_batch", str(lost.id))]


def test_a_lost_evaluation_made_again_gives_its_message_the_same_delivery_key(
    handed_over, django_capture_on_commit_callbacks
):
    make_policy("P", [make_integration("webhook")])
    batch = make_batch(2)
    evaluate(batch, django_capture_on_commit_callbacks)
    first_key = Notification.objects.get().idempotency_key
    # A database crash lost the evaluation's commit after the message went out: the batch is evaluated again.
    Notification.objects.all().delete()
    RepeatMark.objects.all().delete()
    EventBatch.objects.filter(pk=batch.pk).update(evaluated_at=None)
    evaluate(batch, django_capture_on_commit_callbacks)
    assert Notification.objects.get().idempotency_key == first_key
