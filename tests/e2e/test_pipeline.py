"""The whole pipeline with real parts: event POST → evaluation and delivery by a real Celery worker → real
receivers on loopback (SMTP, Telegram Bot API, HMAC webhook, Slack-style, syslog UDP/TCP)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EventBatch
from notifications import delivery
from notifications.models import Notification, NotificationStatus
from notifications.tasks import sweep_delivery_task
from policies import evaluation
from policies.tasks import sweep_evaluation_task
from tests.factories import hook, make_batch, make_integration, make_policy, token_client
from tests.helpers import parse_cef, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def critical(index: int = 0, **overrides) -> dict:
    event = {
        "type": "vulnerability",
        "severity": "critical",
        "source": "trivy",
        "title": f"openssl: X.400 address type confusion #{index}",
        "finding_id": f"CVE-2023-{1000 + index}",
        "package": "libssl3",
        "installed_version": "3.0.7-r0",
        "fixed_version": "3.0.8-r0",
        "cvss": 7.4,
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "tag": "2.3.1",
        "digest": "sha256:" + "ab" * 32,
        "occurred_at": "2026-11-20T10:00:00Z",
    }
    event.update(overrides)
    return event


@pytest.fixture
def api(django_user_model):
    return token_client(django_user_model.objects.create_superuser("ci", "ci@example.com", "pw-ci-12345"))


def post_events(api, events):
    answer = api.post("/api/v1/events/", events, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_one_event_reaches_every_kind_of_output(api, pipeline):
    http, smtp, syslog = pipeline["http"], pipeline["smtp"], pipeline["syslog"]
    outputs = [
        make_integration(
            "email",
            "Mail",
            config={
                "recipients": ["soc@example.com"],
                "sender": "kcs@example.com",
                "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "username": ""},
            },
            secrets={},
        ),
        make_integration(
            "telegram",
            "Chat",
            config={"chat_id": "-100777", "thread_id": 5, "api_base_url": http.url},
            secrets={"bot_token": "4242:e2e-token"},
        ),
        hook(pipeline),
        make_integration("slack", "Slack", secrets={"webhook_url": f"{http.url}/slack/T1/B1/x"}),
        make_integration(
            "syslog", "SIEM udp", config={"host": "127.0.0.1", "port": syslog.udp.server_address[1], "protocol": "udp"}
        ),
        make_integration(
            "syslog", "SIEM tcp", config={"host": "127.0.0.1", "port": syslog.tcp.server_address[1], "protocol": "tcp"}
        ),
    ]
    make_policy("Payments criticals", outputs)
    event_id = post_events(api, critical())["ids"][0]

    wait_for(lambda: Notification.objects.filter(status="sent").count() == 6, what="six deliveries")
    link = f"http://kcs.test/events/{event_id}/"

    ((envelope, mail),) = smtp.messages
    assert envelope.rcpt_tos == ["soc@example.com"]
    assert mail["Subject"].startswith(
        "[KCS Response] Critical vulnerabilities: 1 finding, worst critical in registry.example.com/shop/payments:2.3.1"
    )
    text = mail.get_body(("plain",)).get_content()
    assert "CVE-2023-1000 in libssl3 3.0.7-r0 (fixed in 3.0.8-r0)" in text and link in text
    assert "Payments criticals" in mail.get_body(("html",)).get_content()

    (telegram,) = http.received("/bot")
    assert telegram["path"] == "/bot4242:e2e-token/sendMessage"
    assert telegram["json"]["chat_id"] == "-100777" and telegram["json"]["message_thread_id"] == 5
    assert "<b>Payments criticals</b>" in telegram["json"]["text"] and link in telegram["json"]["text"]

    (webhook,) = http.received("/hook/")
    notification = Notification.objects.get(integration__kind="webhook")
    assert webhook["verified"] and webhook["headers"]["X-KCS-Delivery"] == notification.idempotency_key
    assert webhook["json"]["events"][0]["url"] == link

    (slack,) = http.received("/slack/")
    assert f"<{link}|CVE-2023-1000>" in slack["json"]["text"]

    wait_for(lambda: len(syslog.lines) == 2, what="two syslog lines")
    by_protocol = dict(syslog.lines)
    for line in by_protocol.values():
        cef = parse_cef(line)
        assert cef["signature"] == "vulnerability:CVE-2023-1000" and cef["severity"] == "10"
        assert cef["extension"]["cs1"] == "Payments criticals" and cef["extension"]["request"] == link
        assert cef["extension"]["cs3"].startswith("registry.example.com/shop/payments:2.3.1@sha256:")
    assert set(by_protocol) == {"udp", "tcp"}


def test_disabled_policy_sends_nothing(api, pipeline):
    make_policy("Disabled", [hook(pipeline, "off")], enabled=False)
    make_policy("Enabled", [hook(pipeline, "on")])
    post_events(api, critical())
    wait_for(lambda: pipeline["http"].received("/hook/on"), what="the enabled policy's message")
    assert pipeline["http"].received("/hook/off", accepted_only=False) == []
    assert list(Notification.objects.values_list("policy_name", flat=True)) == ["Enabled"]


def test_two_policies_on_one_event_send_two_messages(api, pipeline):
    target = hook(pipeline)
    make_policy("Team A", [target])
    make_policy("Team B", [target])
    post_events(api, critical())
    received = wait_for(
        lambda: len(pipeline["http"].received("/hook/")) == 2 and pipeline["http"].received("/hook/"),
        what="two messages",
    )
    assert sorted(r["json"]["policy"]["name"] for r in received) == ["Team A", "Team B"]
    assert len({r["headers"]["X-KCS-Delivery"] for r in received}) == 2


def test_300_finding_batch_sends_one_message_per_policy_and_integration(api, pipeline):
    http = pipeline["http"]
    slack = make_integration("slack", "Slack", secrets={"webhook_url": f"{http.url}/slack/T1/B1/x"})
    make_policy("Criticals", [hook(pipeline), slack])
    post_events(api, [critical(i) for i in range(300)])
    wait_for(lambda: Notification.objects.filter(status="sent").count() == 2, what="two deliveries")
    (webhook,) = http.received("/hook/")
    assert webhook["json"]["event_count"] == 300 and len(webhook["json"]["events"]) == 300
    (message,) = http.received("/slack/")
    assert message["json"]["text"].count("• *Critical*") == 20 and "… and 280 more" in message["json"]["text"]
    assert all(n.events.count() == 300 for n in Notification.objects.all())


def test_receiver_failing_twice_then_succeeding_gets_the_message_once_more(api, pipeline):
    http = pipeline["http"]
    http.script["/hook/flaky"] = [(503, "1"), (503, "1")]  # Retry-After: 1 second
    make_policy("Flaky", [hook(pipeline, "flaky")])
    post_events(api, critical())
    notification = wait_for(
        lambda: Notification.objects.filter(status="sent").first(), timeout=30, what="delivery after two failures"
    )
    attempts = http.received("/hook/flaky", accepted_only=False)
    assert [r["answered"] for r in attempts] == [503, 503, 200]
    assert len(http.received("/hook/flaky")) == 1  # delivered exactly once
    assert {r["headers"]["X-KCS-Delivery"] for r in attempts} == {notification.idempotency_key}
    assert notification.attempts == 3 and notification.last_error == ""


def test_receiver_answering_400_fails_at_once(api, pipeline):
    pipeline["http"].script["/hook/strict"] = [400]
    make_policy("Strict", [hook(pipeline, "strict")])
    post_events(api, critical())
    failed = wait_for(lambda: Notification.objects.filter(status="failed").first(), what="a failed notification")
    assert failed.attempts == 1 and "answered HTTP 400: failed" in failed.last_error
    assert len(pipeline["http"].received("/hook/strict", accepted_only=False)) == 1


def test_sweeper_recovers_a_notification_whose_task_was_never_enqueued(pipeline, monkeypatch):
    make_policy("Lost", [hook(pipeline, "lost")])
    batch = make_batch(1)
    # The evaluating worker dies right after its commit: the row is stored, never attempted, nothing queued.
    monkeypatch.setattr("policies.evaluation.first_deliveries", lambda result: None)
    monkeypatch.setattr("policies.index_cache._cached", None)
    evaluation.evaluate_batch(str(batch.id))
    monkeypatch.undo()
    notification = Notification.objects.get()
    assert notification.status == "pending"
    # Time passes beyond the grace period; beat runs the sweeper on the worker.
    Notification.objects.update(next_attempt_at=timezone.now() - delivery.PENDING_GRACE * 2)
    sweep_delivery_task.delay()
    wait_for(lambda: Notification.objects.filter(status="sent").exists(), what="the swept notification")
    (received,) = pipeline["http"].received("/hook/lost")
    assert received["headers"]["X-KCS-Delivery"] == notification.idempotency_key


def test_sweeper_evaluates_a_batch_whose_evaluation_was_never_enqueued(pipeline):
    make_policy("Late", [hook(pipeline, "late")])
    batch = make_batch(2, received_at=timezone.now() - evaluation.EVALUATION_GRACE * 2)
    sweep_evaluation_task.delay()
    wait_for(lambda: pipeline["http"].received("/hook/late"), what="the late batch's message")
    batch.refresh_from_db()
    assert batch.evaluated_at is not None


def test_killing_the_worker_mid_delivery_loses_nothing(api, pipeline, worker):
    http = pipeline["http"]
    http.script["/hook/slow"] = ["hang"]
    make_policy("Slow", [hook(pipeline, "slow")])
    post_events(api, critical())
    wait_for(lambda: http.received("/hook/slow", accepted_only=False), what="the delivery to start")
    worker.kill()  # mid-request: the worker never learns the answer
    killed = timezone.now()
    http.release()
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.SENDING

    worker.start()
    # Nobody renews the dead worker's lease: once it ran out, the sweeper (beat, every KCS_DELIVERY_SWEEP_INTERVAL)
    # hands the row to the new worker.
    wait_for(
        lambda: Notification.objects.get().claimed_until < timezone.now(),
        timeout=int(worker.env["KCS_DELIVERY_LEASE"]) + 5,
        what="the lease to run out",
    )
    sweep_delivery_task.delay()
    sent = wait_for(lambda: Notification.objects.filter(status="sent").first(), what="the re-delivery")
    assert sent.sent_at - killed < timedelta(seconds=30)
    keys = {r["headers"]["X-KCS-Delivery"] for r in http.received("/hook/slow", accepted_only=False)}
    assert keys == {sent.idempotency_key}  # a receiver can drop the duplicate by its delivery id
    assert sent.attempts == 2
    assert EventBatch.objects.count() == 1


def test_a_send_slower_than_the_lease_is_not_taken_over_while_its_worker_lives(api, pipeline, worker):
    http = pipeline["http"]
    http.script["/hook/slow"] = ["hang"]
    make_policy("Slow", [hook(pipeline, "slow")])
    post_events(api, critical())
    wait_for(lambda: http.received("/hook/slow", accepted_only=False), what="the delivery to start")
    # The receiver holds the request for twice the lease while the sweeper runs every second: the sending worker
    # renews its lease, so nobody else sends the message meanwhile.
    deadline = timezone.now() + timedelta(seconds=2 * int(worker.env["KCS_DELIVERY_LEASE"]))
    while timezone.now() < deadline:
        sweep_delivery_task.delay()
        time.sleep(1)
        assert Notification.objects.get().claimed_until > timezone.now()
    http.release()
    sent = wait_for(lambda: Notification.objects.filter(status="sent").first(), what="the slow delivery")
    assert sent.attempts == 1
    assert len(http.received("/hook/slow", accepted_only=False)) == 1


def test_the_security_event_log_and_the_events_reach_a_siem_through_the_worker(api, pipeline):
    syslog = pipeline["syslog"]
    make_integration(
        "syslog",
        "SOC SIEM",
        config={
            "host": "127.0.0.1",
            "port": syslog.tcp.server_address[1],
            "protocol": "tcp",
            "format": "rfc5424",
            "tcp_framing": "newline",
            "security_log": True,
            "security_events": True,
        },
    )
    policy = make_policy("Prod criticals", [make_integration("email")])
    assert api.patch(f"/api/v1/response-policies/{policy.pk}/", {"enabled": False}, format="json").status_code == 200
    posted = post_events(api, [critical(0)])

    wait_for(lambda: len(syslog.lines) == 2, what="the log entry's record and the event's record")
    records = {parse_cef(line)["signature"]: parse_cef(line) for _, line in syslog.lines}
    assert records["ADM-002"]["extension"]["flexString2"] == "Prod criticals"
    assert records["vulnerability:CVE-2023-1000"]["extension"]["externalId"] == str(posted["ids"][0])
    assert set(Notification.objects.exclude(stream="").values_list("status", flat=True)) == {NotificationStatus.SENT}
