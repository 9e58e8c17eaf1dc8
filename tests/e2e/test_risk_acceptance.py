"""Risk acceptance end to end, with real workers (and beat) on PostgreSQL and Redis and a real webhook receiver: an
accepted CVE is not notified when reported again, and an acceptance that ends becomes exactly one expiration
message, however many beats run the expiry."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from events.models import EventType, SecurityEvent
from kcs.models import AuditEntry
from kcs.queueing import send_now
from notifications.models import Notification, NotificationStatus
from policies.models import Trigger
from tests.factories import hook, make_policy, token_client, vulnerability
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QUIET_SECONDS = 3  # how long "nothing arrives" is watched for, after the evaluation that muted it was committed


@pytest.fixture
def officer(django_user_model):
    return django_user_model.objects.create_superuser("officer", "officer@example.com", "pw-officer-12345")


def post_report(api, uid: str) -> int:
    answer = api.post("/api/v1/events/", [vulnerability(uid=uid)], format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["ids"][0]


def test_an_accepted_cve_reported_again_sends_nothing_and_shows_accepted(pipeline, officer):
    http = pipeline["http"]
    api = token_client(officer)
    # No repeat interval: without the acceptance, the second report would be sent like the first.
    make_policy("Critical CVEs", [hook(pipeline, "cves")], repeat_interval=0)
    post_report(api, "scan-1")
    wait_for(lambda: http.received("/hook/cves"), what="the first report's message")

    answer = api.post(
        "/api/v1/risk-acceptances/",
        {
            "type": "vulnerability",
            "finding_id": "CVE-2023-0286",
            "extent": "repository",
            "registry": "registry.example.com",
            "repository": "shop/payments",
            "reason": "Not reachable: no X.400 parsing in this service",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    acceptance = answer.json()

    again = post_report(api, "scan-2")
    muted = wait_for(
        lambda: Notification.objects.filter(events=again, status=NotificationStatus.MUTED).first(),
        what="the second report's evaluation",
    )
    assert muted.muted_by == f"acceptance:{acceptance['id']}"
    time.sleep(QUIET_SECONDS)
    assert len(http.received("/hook/cves", accepted_only=False)) == 1  # the first report's message only

    screens = Client()
    screens.force_login(officer)
    page = screens.get(f"/events/{again}/").content.decode()
    assert "Accepted until" in page
    listing = screens.get("/events/").content.decode()
    assert listing.count("Accepted until") == 2  # the first report's event is covered now too


def test_an_ended_acceptance_expires_into_exactly_one_message_however_many_beats_run(
    pipeline, officer, start_beat_worker
):
    http = pipeline["http"]
    api = token_client(officer)
    make_policy("Expired acceptances", [hook(pipeline, "expiry")], trigger=Trigger.RISK_ACCEPTANCE_EXPIRATION)
    # Two workers with a beat each, both expiring every second: the expiry task runs many times, also at once.
    for _ in range(2):
        start_beat_worker(KCS_ACCEPTANCE_EXPIRY_INTERVAL="1")
    ends = timezone.now() + timedelta(seconds=4)
    answer = api.post(
        "/api/v1/risk-acceptances/",
        {
            "type": "vulnerability",
            "finding_id": "CVE-2023-0286",
            "extent": "image",
            "registry": "registry.example.com",
            "repository": "shop/payments",
            "digest": "sha256:" + "ab" * 32,
            "reason": "Until the base image is rebuilt",
            "expires_at": ends.isoformat(),
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    acceptance = answer.json()

    (message,) = wait_for(lambda: http.received("/hook/expiry"), timeout=40, what="the expiration message")
    for _ in range(2):  # and twice more by hand
        send_now("events.expire_acceptances")
    time.sleep(QUIET_SECONDS)
    assert len(http.received("/hook/expiry", accepted_only=False)) == 1
    assert message["verified"]
    body = json.dumps(message["json"])
    assert "CVE-2023-0286" in body and "registry.example.com/shop/payments" in body
    assert message["json"]["policy"]["trigger"] == "risk_acceptance_expiration"
    (event,) = SecurityEvent.objects.filter(type=EventType.RISK_ACCEPTANCE_EXPIRED)
    assert event.source == "kcs" and event.details["reason"] == "Until the base image is rebuilt"
    assert event.details["accepted_by"] == "officer"
    assert AuditEntry.objects.filter(action="expire", object_id=str(acceptance["id"])).count() == 1
    assert api.get(f"/api/v1/risk-acceptances/{acceptance['id']}/").json()["state"] == "expired"
