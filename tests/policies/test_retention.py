"""Retention: the purge deletes what is older than KCS_RETENTION_DAYS (the security event log: KCS_AUDIT_RETENTION_DAYS),
in chunks, and never what a pending notification still needs nor a repeat mark still quiet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from events.models import EventBatch, SecurityEvent
from kcs.models import AuditEntry
from kcs.retention import Budget
from notifications.models import Notification, NotificationStatus, RepeatMark
from policies.retention import purge
from policies.tasks import purge_task
from tests.factories import AuditEntryFactory, NotificationFactory, make_batch, make_integration, make_policy

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def days_ago(days: float):
    return timezone.now() - days * DAY


def notification(batch, status=NotificationStatus.SENT, age_days: float = 100, **fields) -> Notification:
    return NotificationFactory(
        events=list(batch.events.all()), batch=batch, status=status, created_at=days_ago(age_days), **fields
    )


def repeat_mark(policy, integration, fingerprint: str, notified_days_ago: float, quiet_days: float) -> RepeatMark:
    notified_at = days_ago(notified_days_ago)
    return RepeatMark.objects.create(
        policy=policy,
        integration=integration,
        fingerprint=fingerprint,
        notified_at=notified_at,
        quiet_until=notified_at + quiet_days * DAY,
    )


@pytest.fixture
def policy_and_output():
    output = make_integration("webhook")
    return make_policy("Critical", [output]), output


def test_purge_deletes_what_is_older_than_the_retention_and_keeps_the_rest(policy_and_output):
    policy, output = policy_and_output
    old, recent = make_batch(3, received_at=days_ago(91)), make_batch(2, received_at=days_ago(89))
    old_sent, recent_sent = notification(old, age_days=91), notification(recent, age_days=89)
    old_suppressed = notification(old, status=NotificationStatus.SUPPRESSED, age_days=91)
    old_failed = notification(old, status=NotificationStatus.FAILED, age_days=91)
    repeat_mark(policy, output, "old", notified_days_ago=91, quiet_days=0.5)
    kept_mark = repeat_mark(policy, output, "recent", notified_days_ago=89, quiet_days=0.5)
    AuditEntryFactory(timestamp=days_ago(366))
    kept_entry = AuditEntryFactory(timestamp=days_ago(364))

    report = purge()

    assert report.deleted == {
        "notifications": 3,
        "repeat marks": 1,
        "events": 3,
        "event batches": 1,
        "security event log entries": 1,
    }
    assert report.complete
    assert list(EventBatch.objects.all()) == [recent]
    assert set(SecurityEvent.objects.values_list("batch_id", flat=True)) == {recent.id}
    assert SecurityEvent.objects.count() == 2
    assert list(Notification.objects.all()) == [recent_sent]
    assert recent_sent.events.count() == 2
    assert not Notification.events.through.objects.filter(
        notification_id__in=[old_sent.pk, old_suppressed.pk, old_failed.pk]
    ).exists()
    assert list(RepeatMark.objects.all()) == [kept_mark]
    assert list(AuditEntry.objects.all()) == [kept_entry]


@pytest.mark.parametrize("status", [NotificationStatus.PENDING, NotificationStatus.SENDING])
def test_purge_keeps_the_events_and_batch_of_a_notification_not_yet_delivered(status):
    waiting = make_batch(2, received_at=days_ago(120))
    done = make_batch(1, received_at=days_ago(120))
    unsent = notification(waiting, status=status, age_days=120)
    notification(done, age_days=120)

    report = purge()

    assert report.deleted["events"] == 1 and report.deleted["event batches"] == 1
    assert list(EventBatch.objects.all()) == [waiting]
    assert list(Notification.objects.all()) == [unsent]
    assert unsent.events.count() == 2


def test_purge_keeps_an_old_event_that_a_recent_notification_carries():
    old = make_batch(1, received_at=days_ago(95))
    carried = NotificationFactory(events=list(old.events.all()), status=NotificationStatus.SENT)

    assert purge().deleted["events"] == 0
    assert carried.events.count() == 1 and EventBatch.objects.filter(pk=old.pk).exists()


def test_purge_keeps_repeat_marks_still_quiet(policy_and_output):
    policy, output = policy_and_output
    quiet = repeat_mark(policy, output, "long interval", notified_days_ago=200, quiet_days=365)
    repeat_mark(policy, output, "quiet over", notified_days_ago=200, quiet_days=30)

    assert purge().deleted["repeat marks"] == 1
    assert list(RepeatMark.objects.all()) == [quiet]


def test_chunks_of_two_delete_everything_expired(policy_and_output):
    policy, output = policy_and_output
    batches = [make_batch(3, received_at=days_ago(100 + n)) for n in range(4)]
    make_batch(1, received_at=days_ago(10))
    for batch in batches:
        notification(batch, age_days=100)
    for n in range(5):
        repeat_mark(policy, output, f"f{n}", notified_days_ago=100, quiet_days=1)
        AuditEntryFactory(timestamp=days_ago(400 + n))

    report = purge(chunk=2)

    assert report.deleted == {
        "notifications": 4,
        "repeat marks": 5,
        "events": 12,
        "event batches": 4,
        "security event log entries": 5,
    }
    assert SecurityEvent.objects.count() == 1 and EventBatch.objects.count() == 1
    assert not Notification.objects.exists() and not RepeatMark.objects.exists() and not AuditEntry.objects.exists()


def test_dry_run_counts_what_the_purge_then_deletes(policy_and_output):
    policy, output = policy_and_output
    old = make_batch(3, received_at=days_ago(100))
    notification(old)  # sent: it goes, and with it what kept the events
    pending = make_batch(2, received_at=days_ago(100))
    notification(pending, status=NotificationStatus.PENDING)
    make_batch(2, received_at=days_ago(1))
    repeat_mark(policy, output, "over", notified_days_ago=100, quiet_days=1)
    AuditEntryFactory(timestamp=days_ago(400))

    predicted = purge(dry_run=True)

    assert SecurityEvent.objects.count() == 7 and Notification.objects.count() == 2  # nothing deleted
    assert (
        predicted.deleted
        == purge().deleted
        == {
            "notifications": 1,
            "repeat marks": 1,
            "events": 3,
            "event batches": 1,
            "security event log entries": 1,
        }
    )


def test_retention_days_come_from_the_settings(settings):
    settings.KCS_RETENTION_DAYS = 7
    settings.KCS_AUDIT_RETENTION_DAYS = 30
    make_batch(1, received_at=days_ago(8))
    kept = make_batch(1, received_at=days_ago(6))
    AuditEntryFactory(timestamp=days_ago(31))

    deleted = purge().deleted

    assert deleted["events"] == 1 and deleted["security event log entries"] == 1
    assert list(EventBatch.objects.all()) == [kept]


def test_a_spent_time_budget_stops_the_purge_and_says_so():
    make_batch(2, received_at=days_ago(100))

    report = purge(budget=Budget(seconds=0))

    assert not report.complete
    assert SecurityEvent.objects.count() == 2


def test_purge_command_prints_what_it_deleted_and_dry_run_deletes_nothing(capsys):
    make_batch(3, received_at=days_ago(100))

    call_command("purge", "--dry-run")
    dry = capsys.readouterr().out
    assert dry.startswith("Would delete") and "KCS_RETENTION_DAYS=90" in dry
    assert [line.split() for line in dry.splitlines() if line.strip().startswith("events")] == [["events", "3"]]
    assert SecurityEvent.objects.count() == 3

    call_command("purge", "--chunk-size", "2", "--rest", "0")
    out = capsys.readouterr().out
    assert out.startswith("Deleted")
    assert [line.split() for line in out.splitlines() if line.strip().startswith(("events", "event batches"))] == [
        ["events", "3"],
        ["event", "batches", "1"],
    ]
    assert not SecurityEvent.objects.exists()


def test_purge_runs_every_hour_on_the_default_queue_as_a_task():
    schedule = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "policies.purge"]
    assert schedule == [{"task": "policies.purge", "schedule": 3600.0}]
    from kcs.celery import app

    assert app.amqp.router.route({}, "policies.purge")["queue"].name == "default"
    make_batch(1, received_at=days_ago(100))
    purge_task.delay()
    assert not SecurityEvent.objects.exists()
