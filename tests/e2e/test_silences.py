"""Silences with real parts: a real worker evaluates on PostgreSQL through Redis, a real webhook receiver listens.

A silence mutes (the receiver gets nothing; the row is muted and names the silence; the decision trace says so);
expiring it early lets the next report of the same finding through at once.
"""

from __future__ import annotations

import time

import pytest

from notifications.models import Notification, NotificationStatus
from tests.factories import hook, make_policy, token_client
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FINDING = "CVE-2026-7777"


@pytest.fixture
def api(django_user_model):
    return token_client(django_user_model.objects.create_superuser("soc", "soc@example.com", "pw-soc-12345"))


def report(api, uid: str) -> int:
    event = {
        "type": "vulnerability",
        "severity": "critical",
        "source": "trivy",
        "title": "zlib: heap overflow",
        "finding_id": FINDING,
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "tag": "2.3.1",
        "uid": uid,
    }
    answer = api.post("/api/v1/events/", event, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["ids"][0]


def test_silence_mutes_and_expiring_it_lets_the_next_finding_through(api, pipeline):
    http = pipeline["http"]
    policy = make_policy("Payments criticals", [hook(pipeline)], repeat_interval=3600)
    created = api.post(
        "/api/v1/silences/",
        {"matchers": {"finding_id": "cve-2026-*", "repository": "shop/*"}, "duration": "2h", "comment": "fix Friday"},
        format="json",
    )
    assert created.status_code == 201, created.content
    silence_id = created.json()["id"]

    first = report(api, "scan-1")
    muted = wait_for(
        lambda: Notification.objects.filter(muted_by=f"silence:{silence_id}").first(), what="the muted decision"
    )
    assert muted.status == NotificationStatus.MUTED and muted.policy_id == policy.pk
    assert list(muted.events.values_list("pk", flat=True)) == [first]
    time.sleep(1)  # a message, had one been made, would have reached the receiver by now (fast path)
    assert http.received("/hook/", accepted_only=False) == []
    assert not Notification.objects.exclude(status=NotificationStatus.MUTED).exists()

    decisions = api.get(f"/api/v1/events/{first}/decisions/").json()
    assert [(d["policy"], d["verdict"], d["silence"]) for d in decisions] == [(policy.pk, "silenced", silence_id)]
    assert api.get(f"/api/v1/silences/{silence_id}/").json()["muted_notifications"] == 1

    assert api.post(f"/api/v1/silences/{silence_id}/expire/").json()["state"] == "expired"
    second = report(api, "scan-2")
    (delivered,) = wait_for(lambda: http.received("/hook/"), what="the next finding's message")
    assert delivered["verified"] and [e["id"] for e in delivered["json"]["events"]] == [second]
    sent = Notification.objects.get(status=NotificationStatus.SENT)
    assert sent.muted_by == "" and list(sent.events.values_list("pk", flat=True)) == [second]
