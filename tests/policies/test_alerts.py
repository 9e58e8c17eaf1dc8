"""Alerts about triggered response policies: one security event log entry per notification an evaluation makes,
shown on the log's Alerts tab and by ``/api/v1/audit-log/?category=alerts``."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry
from notifications.models import Notification, NotificationStatus
from policies import evaluation
from tests.factories import UserFactory, make_batch, make_integration, make_policy, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def nothing_sent(monkeypatch):
    """Evaluation only: the first deliveries after the commit are not made."""
    monkeypatch.setattr(evaluation, "first_deliveries", lambda result: None)


def alerts():
    return list(AuditEntry.objects.filter(category="alerts").order_by("changes__output"))


def test_each_notification_of_an_evaluation_writes_one_alert(django_capture_on_commit_callbacks):
    policy = make_policy(
        "Critical CVEs in prod", [make_integration("webhook", "SOC hook"), make_integration("email", "SOC mail")]
    )
    make_policy("Quiet", [make_integration("webhook", "Other")], enabled=False)
    batch = make_batch(3)
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_batch(str(batch.id))

    notifications = Notification.objects.filter(status=NotificationStatus.PENDING)
    assert notifications.count() == 2
    first, second = alerts()
    for entry, output in ((first, "SOC hook"), (second, "SOC mail")):
        assert entry.action == "alert" and entry.actor_name == "system" and entry.source == "system"
        assert entry.object_repr == "Critical CVEs in prod" and entry.object_id == str(policy.pk)
        assert entry.changes["trigger"] == "Critical vulnerabilities"
        assert entry.changes["events"] == 3
        assert entry.changes["output"] == output
    assert {first.changes["notification"], second.changes["notification"]} == set(
        notifications.values_list("pk", flat=True)
    )


def test_a_suppressed_repeat_is_not_an_alert(django_capture_on_commit_callbacks):
    make_policy("Critical CVEs", [make_integration("webhook", "SOC hook")])
    for _ in range(2):  # the same findings again, inside the repeat interval
        with django_capture_on_commit_callbacks(execute=True):
            evaluation.evaluate_batch(str(make_batch(2).id))
    assert Notification.objects.filter(status=NotificationStatus.SUPPRESSED).count() == 1
    assert len(alerts()) == 1


def test_an_evaluation_that_matches_nothing_writes_no_alert(django_capture_on_commit_callbacks):
    make_policy("Malware", [make_integration("webhook")], trigger="malware")
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_batch(str(make_batch(2).id))
    assert alerts() == []


def test_the_alerts_tab_and_the_api_filter_show_the_alerts(client, django_capture_on_commit_callbacks):
    make_policy("Critical CVEs in prod", [make_integration("webhook", "SOC hook")])
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_batch(str(make_batch(4).id))
    AuditEntry.objects.create(
        actor_name="alice", action="update", object_type="scope", object_repr="Prod", source="ui", category="policies"
    )
    auditor = UserFactory(username="auditor", rights=["kcs.view_auditentry"])
    client.force_login(auditor)

    html = client.get("/security-log/", {"category": "alerts"}).content.decode()
    assert "Critical CVEs in prod" in html and "SOC hook" in html and "Critical vulnerabilities" in html
    assert "Prod" not in html
    assert 'href="?category=alerts" class="active" aria-current="page">Alerts</a>' in html

    api = token_client(auditor)
    data = api.get("/api/v1/audit-log/", {"category": "alerts"}).json()
    assert data["count"] == 1
    (alert,) = data["results"]
    assert alert["category"] == "alerts" and alert["action"] == "alert"
    assert alert["changes"]["events"] == 4 and alert["changes"]["output"] == "SOC hook"
    assert api.get("/api/v1/audit-log/", {"category": "alerts", "search": "critical cves"}).json()["count"] == 1
    assert api.get("/api/v1/audit-log/", {"category": "alerts", "search": "Prod scope"}).json()["count"] == 0
