"""Expiry of risk acceptances: an acceptance whose period ended becomes exactly one ``risk_acceptance_expired``
event (source kcs, a uid derived from the acceptance and its end) and one ``expire`` log entry, however many times
or at once the task runs; then it no longer covers its finding."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from events import acceptances
from events.acceptance_index import AcceptanceIndex
from events.models import EventType, Extent, RiskAcceptance, SecurityEvent, Severity
from kcs.models import AuditEntry
from tests.factories import RiskAcceptanceFactory, SecurityEventFactory

pytestmark = pytest.mark.django_db


def ended(**fields) -> RiskAcceptance:
    now = timezone.now()
    return RiskAcceptanceFactory(
        accepted_at=now - timedelta(days=30), expires_at=now - timedelta(seconds=5), accepted_by_name="alice", **fields
    )


def test_an_ended_acceptance_becomes_one_expiry_event_carrying_what_was_accepted():
    acceptance = ended(reason="Behind the WAF until the upgrade")
    assert acceptances.expire_due() == 1
    event = SecurityEvent.objects.get()
    assert (event.type, event.source, event.severity) == (EventType.RISK_ACCEPTANCE_EXPIRED, "kcs", Severity.CRITICAL)
    assert (event.finding_id, event.registry, event.repository) == ("CVE-2024-1000", "registry.example.com", "shop/web")
    assert event.uid == f"risk-acceptance:{acceptance.pk}:expired:{int(acceptance.expires_at.timestamp())}"
    assert event.occurred_at == acceptance.expires_at
    assert event.description == "Behind the WAF until the upgrade"
    assert event.details == {
        "risk_acceptance": acceptance.pk,
        "threat_type": "vulnerability",
        "extent": "repository",
        "reason": "Behind the WAF until the upgrade",
        "accepted_by": "alice",
        "accepted_at": acceptance.accepted_at.isoformat(),
        "expires_at": acceptance.expires_at.isoformat(),
    }
    assert "CVE-2024-1000" in event.title and "shop/web" in event.title
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor_name, entry.source, entry.object_id) == (
        "expire",
        "system",
        "system",
        str(acceptance.pk),
    )
    acceptance.refresh_from_db()
    assert acceptance.expiry_recorded_at is not None and acceptance.state == "expired"


def test_running_the_expiry_again_stores_nothing_more():
    ended()
    acceptances.expire_due()
    assert acceptances.expire_due() == 0
    assert SecurityEvent.objects.count() == 1 and AuditEntry.objects.count() == 1


def test_a_rerun_that_lost_its_mark_stores_the_event_and_the_log_entry_once():
    acceptance = ended()
    acceptances.expire_due()
    RiskAcceptance.objects.filter(pk=acceptance.pk).update(expiry_recorded_at=None)
    acceptances.expire_due()
    assert SecurityEvent.objects.count() == 1 and AuditEntry.objects.count() == 1


def test_active_cancelled_and_unlimited_acceptances_do_not_expire():
    now = timezone.now()
    RiskAcceptanceFactory(finding_id="CVE-1", expires_at=now + timedelta(minutes=1))
    RiskAcceptanceFactory(finding_id="CVE-2", expires_at=None)
    RiskAcceptanceFactory(
        finding_id="CVE-3", expires_at=now - timedelta(minutes=1), cancelled_at=now - timedelta(hours=1)
    )
    assert acceptances.expire_due() == 0
    assert not SecurityEvent.objects.exists()


def test_an_every_image_acceptance_expires_into_an_event_without_an_image():
    ended(extent=Extent.ALL, registry="", repository="", severity=None)
    acceptances.expire_due()
    event = SecurityEvent.objects.get()
    assert (event.registry, event.repository, event.severity) == ("", "", Severity.UNKNOWN)
    assert "every image" in event.title


def test_after_expiry_the_finding_is_no_longer_covered():
    acceptance = ended()
    reported = SecurityEventFactory(index=0)
    now = timezone.now()
    assert AcceptanceIndex.load().covering(reported, now - timedelta(seconds=30)).id == acceptance.pk
    acceptances.expire_due()
    assert not AcceptanceIndex.load()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_store_one_expiry_event():
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (the SQLite test database lives in one connection)")
    for number in range(5):
        ended(finding_id=f"CVE-2026-{number}")
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run():
        barrier.wait()
        try:
            results.append(acceptances.expire_due())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(results) == 5
    assert SecurityEvent.objects.count() == 5 and AuditEntry.objects.filter(action="expire").count() == 5


def test_beat_runs_the_expiry_task_every_minute_by_default(settings):
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["events.expire_acceptances"] == 60.0
