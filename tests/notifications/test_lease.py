"""Delivery leases, in real time with a 3-second lease: a claim whose worker is alive and sending is renewed and
never taken over, however long the send takes; a claim nobody renews runs out and is taken over."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from notifications import delivery, lease
from notifications.models import Notification, NotificationStatus
from tests.factories import NotificationFactory, make_batch, make_integration
from tests.helpers import response, wait_for

# The sending thread and the lease keeper use their own database connections: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 3  # seconds (the product's minimum): renewed every second


@pytest.fixture
def short_lease(settings, monkeypatch):
    settings.KCS_DELIVERY_LEASE = LEASE
    monkeypatch.setattr(delivery, "send_now", lambda *args, **kwargs: True)
    monkeypatch.setattr(lease, "keeper", lease.LeaseKeeper())  # a keeper of this test's own


class SlowReceiver:
    """Stands in for the HTTP helper: each request waits until released, then is answered 200."""

    def __init__(self):
        self.calls: list[str] = []
        self.released = threading.Event()

    def __call__(self, method, url, *, json=None, data=None, headers=None, auth=None):
        self.calls.append(headers["X-KCS-Delivery"])
        self.released.wait(30)
        return response(200)


def make_notification() -> Notification:
    return NotificationFactory(integration=make_integration("webhook"), events=make_batch(1).events.all())


def test_a_claim_renewed_while_its_send_is_in_flight_is_never_taken_over(short_lease, monkeypatch):
    receiver = SlowReceiver()
    monkeypatch.setattr("notifications.channels.http.request", receiver)
    notification = make_notification()
    outcome = {}

    def worker():
        try:
            outcome["status"] = delivery.deliver(notification.pk)
        finally:
            connection.close()

    sending = threading.Thread(target=worker)
    sending.start()
    try:
        wait_for(lambda: receiver.calls, what="the send to start")
        first_lease = Notification.objects.get(pk=notification.pk).claimed_until
        # Twice the lease later the send is still in flight: the lease was renewed, nobody may take the row.
        time.sleep(2 * LEASE)
        row = Notification.objects.get(pk=notification.pk)
        assert row.status == NotificationStatus.SENDING
        assert row.claimed_until > first_lease and row.claimed_until > timezone.now()
        assert delivery.deliver(notification.pk) is None
        assert delivery.sweep() == 0
    finally:
        receiver.released.set()
        sending.join(10)
    assert outcome["status"] == NotificationStatus.SENT
    assert receiver.calls == [notification.idempotency_key]  # sent once
    assert lease.keeper.held() == set()


def test_a_claim_nobody_renews_runs_out_and_is_taken_over(short_lease, fake_http):
    """The worker that claimed the row was killed: its lease is not renewed any more."""
    notification = make_notification()
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.SENDING, attempts=1, claimed_at=now, claimed_until=now + timedelta(seconds=LEASE)
    )
    assert delivery.deliver(notification.pk) is None  # still leased
    assert delivery.sweep() == 0
    wait_for(lambda: delivery.sweep() == 1, timeout=LEASE + 2, interval=0.2, what="the sweeper to find the row")
    assert delivery.deliver(notification.pk) == NotificationStatus.SENT
    row = Notification.objects.get(pk=notification.pk)
    assert row.attempts == 2 and row.claimed_at > now
    assert len(fake_http.calls) == 1


def test_the_old_claim_neither_renews_nor_records_once_taken_over(short_lease, fake_http):
    notification = make_notification()
    old = timezone.now() - timedelta(seconds=2 * LEASE)
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.SENDING, claimed_at=old, claimed_until=old + timedelta(seconds=LEASE)
    )
    stalled = Notification.objects.get(pk=notification.pk)  # the claim of a worker that stalled past its lease
    lease.keeper.hold([stalled])
    assert delivery.deliver(notification.pk) == NotificationStatus.SENT  # taken over and sent
    lease.keeper._held[stalled.pk] = (stalled.claimed_at, 0.0)  # its renewal is due
    assert lease.keeper.renew_due() == 0
    assert lease.keeper.held() == set()
    assert delivery.record_outcome(stalled, None, None) is None
    assert Notification.objects.get(pk=notification.pk).status == NotificationStatus.SENT
