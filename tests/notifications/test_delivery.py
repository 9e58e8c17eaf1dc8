"""Delivery: claim once, send, and record sent / retry with backoff / failed; the sweeper; manual retry."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import delivery
from notifications.models import Notification, NotificationIntegration, NotificationStatus
from tests.factories import NotificationFactory, make_batch, make_integration
from tests.helpers import response

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    sent = []

    def send_now(name, *args, countdown=None):
        sent.append((name, *args, countdown))
        return True

    monkeypatch.setattr("notifications.delivery.send_now", send_now)
    return sent


def make_notification(integration=None, events=1, **fields) -> Notification:
    """A pending notification of ``events`` new events through ``integration`` (default: a new webhook)."""
    return NotificationFactory(
        integration=integration or make_integration("webhook"), events=make_batch(events).events.all(), **fields
    )


def test_delivered_notification_is_sent_with_its_idempotency_key(fake_http, queued):
    notification = make_notification()
    assert delivery.deliver(notification.pk) == NotificationStatus.SENT
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 1 and notification.sent_at
    assert fake_http.last["headers"]["X-KCS-Delivery"] == notification.idempotency_key
    assert notification.body == fake_http.last["data"].decode()  # the log keeps what was sent


def test_a_row_passed_in_by_its_maker_is_sent_like_a_row_read_back(fake_http, queued):
    notification = make_notification(events=3)
    loaded = Notification.objects.select_related("integration").get(pk=notification.pk)
    events = list(notification.events.all())
    assert delivery.deliver(notification.pk, loaded=loaded, events=events) == NotificationStatus.SENT
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 1
    assert notification.body == fake_http.last["data"].decode() and "3 findings" in notification.subject
    assert delivery.deliver(notification.pk, loaded=loaded, events=events) is None  # claimed once, as always


def test_a_sent_notification_is_never_sent_again(fake_http, queued):
    notification = make_notification()
    delivery.deliver(notification.pk)
    assert delivery.deliver(notification.pk) is None
    assert len(fake_http.calls) == 1


def test_transient_failure_goes_back_to_pending_with_backoff(fake_http, queued):
    fake_http.answers.append(response(503, "busy"))
    notification = make_notification()
    before = timezone.now()
    assert delivery.deliver(notification.pk) == NotificationStatus.PENDING
    notification.refresh_from_db()
    assert notification.attempts == 1 and "HTTP 503" in notification.last_error
    wait = (notification.next_attempt_at - before).total_seconds()
    assert delivery.BASE_DELAY * 0.8 - 1 <= wait <= delivery.BASE_DELAY * 1.2 + 1
    ((name, ident, countdown),) = queued
    assert (name, ident) == ("notifications.deliver", notification.pk) and countdown == pytest.approx(wait, abs=1)


def test_retry_after_is_honoured(fake_http, queued):
    fake_http.answers.append(response(429, "slow down", {"Retry-After": "3"}))
    notification = make_notification()
    delivery.deliver(notification.pk)
    assert queued[0][2] == 3.0


def test_permanent_failure_fails_at_once_with_a_readable_error(fake_http, queued):
    fake_http.answers.append(response(400, "invalid_payload"))
    notification = make_notification()
    assert delivery.deliver(notification.pk) == NotificationStatus.FAILED
    notification.refresh_from_db()
    assert notification.last_error == "Webhook hooks.example.com answered HTTP 400: invalid_payload"
    assert queued == []


def test_attempts_are_bounded(fake_http, queued):
    notification = make_notification(attempts=delivery.MAX_ATTEMPTS - 1)
    fake_http.answers.append(response(500, "down"))
    assert delivery.deliver(notification.pk) == NotificationStatus.FAILED
    notification.refresh_from_db()
    assert notification.last_error.startswith(f"Gave up after {delivery.MAX_ATTEMPTS} attempts")


def test_backoff_grows_exponentially_and_is_capped():
    delays = [delivery.backoff(n) for n in range(1, 12)]
    assert delays[0] <= delivery.BASE_DELAY * 1.2 and delays[3] >= delivery.BASE_DELAY * 8 * 0.8
    assert max(delays) <= delivery.MAX_DELAY * 1.2


def test_not_yet_due_and_recently_claimed_rows_are_not_claimed(fake_http, queued):
    later = make_notification(next_attempt_at=timezone.now() + timedelta(minutes=5))
    busy = make_notification(
        status=NotificationStatus.SENDING,
        claimed_at=timezone.now(),
        claimed_until=timezone.now() + timedelta(seconds=10),
    )
    assert delivery.deliver(later.pk) is None and delivery.deliver(busy.pk) is None
    assert fake_http.calls == []


def test_a_claim_whose_lease_ran_out_is_taken_over(fake_http, queued):
    """Its worker died: nobody renewed the lease, which ran out a second ago."""
    now = timezone.now()
    stuck = make_notification(
        status=NotificationStatus.SENDING,
        attempts=1,
        claimed_at=now - timedelta(seconds=20),
        claimed_until=now - timedelta(seconds=1),
    )
    assert delivery.deliver(stuck.pk) == NotificationStatus.SENT
    stuck.refresh_from_db()
    assert stuck.attempts == 2 and stuck.claimed_at > now
    assert [call["headers"]["X-KCS-Delivery"] for call in fake_http.calls] == [stuck.idempotency_key]


def test_a_claim_made_before_leases_existed_is_taken_over_after_one_lease(fake_http, queued, settings):
    now = timezone.now()
    recent = make_notification(status=NotificationStatus.SENDING, claimed_at=now - timedelta(seconds=2))
    old = make_notification(
        status=NotificationStatus.SENDING, claimed_at=now - timedelta(seconds=settings.KCS_DELIVERY_LEASE + 1)
    )
    assert delivery.deliver(recent.pk) is None
    assert delivery.deliver(old.pk) == NotificationStatus.SENT


def test_the_claim_takes_exactly_the_rows_the_claimable_rule_names(settings):
    """The claim's SQL and the rule it writes out (``_claimable``, which the sweeper's lease rule is part of) agree
    on every kind of row: due or not, in sending with a live, expired or missing lease, already finished."""
    now = timezone.now()
    lease = timedelta(seconds=settings.KCS_DELIVERY_LEASE)
    integration = make_integration("webhook")
    rows = [
        make_notification(integration, **fields)
        for fields in (
            {"next_attempt_at": now - timedelta(seconds=5)},
            {"next_attempt_at": now + delivery.CLOCK_TOLERANCE / 2},
            {"next_attempt_at": now + timedelta(minutes=5)},
            {"status": "sending", "claimed_at": now, "claimed_until": now + lease},
            {"status": "sending", "claimed_at": now - 2 * lease, "claimed_until": now - timedelta(seconds=1)},
            {"status": "sending", "claimed_at": now - timedelta(seconds=2)},
            {"status": "sending", "claimed_at": now - lease - timedelta(seconds=1)},
            {"status": "sending"},
            {"status": "sent", "next_attempt_at": now - timedelta(seconds=5)},
            {"status": "failed", "next_attempt_at": now - timedelta(seconds=5)},
        )
    ]
    expected = set(Notification.objects.filter(delivery._claimable(now)).values_list("pk", flat=True))
    assert 0 < len(expected) < len(rows)
    claimed = {row.pk for row in rows if delivery._claim(row.pk, now)}
    assert claimed == expected
    assert not any(delivery._claim(pk, now) for pk in claimed)  # taken once


def test_a_claim_sets_a_lease(fake_http, queued, settings):
    notification = make_notification()
    before = timezone.now()
    assert delivery.deliver(notification.pk) == NotificationStatus.SENT
    notification.refresh_from_db()
    lease = notification.claimed_until - notification.claimed_at
    assert notification.claimed_at >= before and lease == timedelta(seconds=settings.KCS_DELIVERY_LEASE)


def test_an_outcome_of_a_taken_over_attempt_is_not_recorded(fake_http, queued):
    notification = make_notification()
    Notification.objects.filter(pk=notification.pk).update(status="sending", claimed_at=timezone.now())
    notification.refresh_from_db()
    Notification.objects.filter(pk=notification.pk).update(status="sent", claimed_at=timezone.now())
    assert delivery.record_outcome(notification, None, None) is None


def test_disabled_or_deleted_integration_fails_the_notification(fake_http, queued):
    notification = make_notification(make_integration("webhook", enabled=False))
    assert delivery.deliver(notification.pk) == NotificationStatus.FAILED
    notification.refresh_from_db()
    assert "disabled" in notification.last_error and fake_http.calls == []


def test_rate_limited_output_defers_beyond_its_rate(fake_http, queued):
    hook = make_integration("webhook", config={"url": "https://hooks.example.com/", "auth": "none", "rate_limit": 0.1})
    first, second = make_notification(hook), make_notification(hook)
    assert delivery.deliver(first.pk) == NotificationStatus.SENT
    assert delivery.deliver(second.pk) == NotificationStatus.PENDING  # its slot is 10 s away
    second.refresh_from_db()
    assert second.attempts == 0 and second.throttled_until == second.next_attempt_at
    assert 8 < queued[-1][2] <= 10
    # At its slot it goes out without waiting for another one.
    Notification.objects.filter(pk=second.pk).update(next_attempt_at=timezone.now(), throttled_until=timezone.now())
    assert delivery.deliver(second.pk) == NotificationStatus.SENT
    assert len(fake_http.calls) == 2
    assert NotificationIntegration.objects.get(pk=hook.pk).rate_slot_at > timezone.now()


@pytest.fixture
def unhurried(monkeypatch):
    """A drain time limit no loaded test machine reaches (the limit itself is tested on its own)."""
    monkeypatch.setattr(delivery, "DRAIN_SECONDS", 60.0)


def test_a_task_also_sends_the_other_due_messages_of_its_output(fake_http, queued, unhurried):
    hook = make_integration("webhook")
    first, second, third = (make_notification(hook, events=2) for _ in range(3))
    later = make_notification(hook, next_attempt_at=timezone.now() + timedelta(minutes=5))
    other = make_notification(make_integration("webhook"))
    assert delivery.deliver(first.pk) == NotificationStatus.SENT
    assert sorted(call["headers"]["X-KCS-Delivery"] for call in fake_http.calls) == sorted(
        n.idempotency_key for n in (first, second, third)
    )
    for notification in (second, third):
        notification.refresh_from_db()
        assert notification.status == "sent" and notification.attempts == 1
        assert len(json.loads(notification.body)["events"]) == 2  # each message carries its own events
    assert {n.status for n in Notification.objects.filter(pk__in=[later.pk, other.pk])} == {"pending"}
    # The drained rows' own task messages find nothing left to do: each message went out once.
    assert delivery.deliver(second.pk) is None and delivery.deliver(third.pk) is None
    assert len(fake_http.calls) == 3


def test_draining_stops_at_the_first_failure(fake_http, queued, unhurried):
    hook = make_integration("webhook")
    first, second, third = (make_notification(hook) for _ in range(3))
    fake_http.answers.extend([response(200), response(503, "busy")])
    assert delivery.deliver(first.pk) == NotificationStatus.SENT
    assert len(fake_http.calls) == 2
    statuses = {n.pk: (n.status, n.attempts) for n in Notification.objects.filter(pk__in=[second.pk, third.pk])}
    assert statuses == {second.pk: ("pending", 1), third.pk: ("pending", 0)}  # the third was not attempted
    # The failed one comes back after its backoff, the third at once (its own message may already have been used).
    assert [(q[1], q[2] is None) for q in queued] == [(second.pk, False), (third.pk, True)]


def test_draining_is_bounded_in_messages(fake_http, queued, unhurried, monkeypatch):
    monkeypatch.setattr(delivery, "DRAIN_LIMIT", 2)
    hook = make_integration("webhook")
    rows = [make_notification(hook) for _ in range(5)]
    delivery.deliver(rows[0].pk)
    assert len(fake_http.calls) == 3  # its own message and two more
    assert Notification.objects.filter(status="pending").count() == 2


def test_draining_is_bounded_in_time(fake_http, queued, monkeypatch):
    monkeypatch.setattr(delivery, "DRAIN_SECONDS", 0.0)
    hook = make_integration("webhook")
    rows = [make_notification(hook) for _ in range(3)]
    delivery.deliver(rows[0].pk)
    assert len(fake_http.calls) == 1  # the others wait for their own tasks, unclaimed
    assert list(Notification.objects.filter(status="pending").values_list("attempts", flat=True)) == [0, 0]


def test_sweep_requeues_lost_work_only(fake_http):
    """Tasks run in-process here, so whatever the sweep re-queued has been done by the time it returns."""
    old = timezone.now() - timedelta(minutes=5)
    lost = make_notification(next_attempt_at=old)
    due = make_notification()  # due now: its task is on its way
    now = timezone.now()
    stuck = make_notification(
        status="sending", claimed_at=now - timedelta(seconds=30), claimed_until=now - timedelta(seconds=1)
    )
    busy = make_notification(status="sending", claimed_at=now, claimed_until=now + timedelta(seconds=15))
    sent = make_notification(status="sent")
    assert delivery.sweep() == 2
    statuses = dict(Notification.objects.values_list("pk", "status"))
    assert statuses == {lost.pk: "sent", due.pk: "pending", stuck.pk: "sent", busy.pk: "sending", sent.pk: "sent"}
    delivered = sorted(call["headers"]["X-KCS-Delivery"] for call in fake_http.calls)
    assert delivered == sorted([lost.idempotency_key, stuck.idempotency_key])


def waiting(hook, created_ago: float, slot_in: float) -> Notification:
    """A message of rate-limited ``hook`` made ``created_ago`` seconds ago, waiting for its slot ``slot_in`` s away."""
    now = timezone.now()
    slot = now + timedelta(seconds=slot_in)
    return make_notification(
        hook, created_at=now - timedelta(seconds=created_ago), next_attempt_at=slot, throttled_until=slot
    )


def test_when_messages_wait_for_a_rate_limited_output_the_newest_goes_first(fake_http, queued):
    hook = make_integration("webhook", config={"url": "https://hooks.example.com/", "auth": "none", "rate_limit": 1})
    oldest = waiting(hook, created_ago=30, slot_in=-0.1)  # its slot has come
    middle = waiting(hook, created_ago=20, slot_in=1)
    newest = waiting(hook, created_ago=10, slot_in=2)

    assert delivery.deliver(oldest.pk) == NotificationStatus.SENT
    assert [call["headers"]["X-KCS-Delivery"] for call in fake_http.calls] == [newest.idempotency_key]
    newest.refresh_from_db()
    oldest.refresh_from_db()
    assert newest.status == "sent" and newest.attempts == 1
    # The passed-over message is not lost: pending, at the slot the newest one had, with a task queued for it.
    assert oldest.status == "pending" and oldest.attempts == 0
    assert oldest.next_attempt_at == oldest.throttled_until and oldest.throttled_until > timezone.now()
    assert queued[-1][:2] == (delivery.DELIVER_TASK, oldest.pk) and 0 < queued[-1][2] <= 2

    # At the next slot the newest waiting message goes first again: the middle one, then the oldest.
    Notification.objects.filter(pk=middle.pk).update(next_attempt_at=timezone.now(), throttled_until=timezone.now())
    assert delivery.deliver(middle.pk) == NotificationStatus.SENT
    Notification.objects.filter(pk=oldest.pk).update(next_attempt_at=timezone.now(), throttled_until=timezone.now())
    assert delivery.deliver(oldest.pk) == NotificationStatus.SENT
    sent = [call["headers"]["X-KCS-Delivery"] for call in fake_http.calls]
    assert sent == [newest.idempotency_key, middle.idempotency_key, oldest.idempotency_key]


def test_a_message_that_waited_long_enough_keeps_its_slot_so_nothing_starves(fake_http, queued):
    hook = make_integration("webhook", config={"url": "https://hooks.example.com/", "auth": "none", "rate_limit": 1})
    old = waiting(hook, created_ago=delivery.NEWEST_FIRST_WAIT.total_seconds() + 1, slot_in=-0.1)
    newer = waiting(hook, created_ago=1, slot_in=1)
    assert delivery.deliver(old.pk) == NotificationStatus.SENT
    assert [call["headers"]["X-KCS-Delivery"] for call in fake_http.calls] == [old.idempotency_key]
    newer.refresh_from_db()
    assert newer.status == "pending" and newer.throttled_until > timezone.now()  # still waits for its own slot
