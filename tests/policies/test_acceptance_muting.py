"""Risk acceptances in evaluation, preview and the decision trace: an active acceptance mutes its events for every
policy (recorded as muted, ``acceptance:<id>``); a cancelled or ended one does not; the expiry event itself is never
muted and fires the Risk acceptance expiration trigger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from events import acceptances
from events.models import EventType, Extent, Severity
from notifications.models import Notification, NotificationStatus
from policies import evaluation
from policies.decisions import trace
from policies.engine import Verdict
from policies.models import Trigger
from tests.factories import (
    RiskAcceptanceFactory,
    ScopeFactory,
    make_batch,
    make_integration,
    make_policy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_delivery(monkeypatch):
    monkeypatch.setattr("policies.evaluation.first_deliveries", lambda result: None)


@pytest.fixture
def officer_request(officer):
    request = RequestFactory().post("/api/v1/risk-acceptances/")
    request.user = officer
    return request


def accept(request, finding_id: str, **fields):
    values = {
        "type": "vulnerability",
        "finding_id": finding_id,
        "extent": "repository",
        "registry": "registry.example.com",
        "repository": "shop/web",
        "reason": "Mitigated",
    } | fields
    acceptance, _ = acceptances.accept(request, values)
    return acceptance


def statuses() -> dict[str, str]:
    return {n.status: n.muted_by for n in Notification.objects.all()}


def test_accepted_finding_is_muted_for_every_policy_and_the_rest_is_sent(officer_request, no_delivery):
    hook = make_integration("webhook")
    make_policy("Crit", [hook])
    make_policy("Crit too", [hook])
    batch = make_batch(2)
    accepted, other = batch.events.order_by("id")
    acceptance = accept(officer_request, accepted.finding_id)
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.pending) == 2 and len(result.muted) == 2
    for muted in Notification.objects.filter(status=NotificationStatus.MUTED):
        assert muted.muted_by == f"acceptance:{acceptance.pk}" and list(muted.events.all()) == [accepted]
    for sent in Notification.objects.filter(status=NotificationStatus.PENDING):
        assert list(sent.events.all()) == [other]
    assert {d.verdict for d in trace(accepted)} == {Verdict.ACCEPTED}


def test_a_cancelled_acceptance_mutes_nothing(officer_request, no_delivery):
    make_policy("Crit", [make_integration("webhook")])
    batch = make_batch(1)
    acceptances.cancel(officer_request, accept(officer_request, batch.events.get().finding_id))
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.pending) == 1 and result.muted == []


def test_an_ended_acceptance_mutes_nothing_even_before_its_expiry_is_recorded(no_delivery):
    make_policy("Crit", [make_integration("webhook")])
    batch = make_batch(1)
    RiskAcceptanceFactory(finding_id=batch.events.get().finding_id, expires_at=timezone.now() - timedelta(seconds=1))
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.pending) == 1 and result.muted == []


def test_an_acceptance_of_another_image_or_repository_mutes_nothing(officer_request, no_delivery):
    make_policy("Crit", [make_integration("webhook")])
    batch = make_batch(1)
    finding = batch.events.get().finding_id
    accept(officer_request, finding, repository="shop/api")
    accept(officer_request, finding, extent="image", digest="sha256:" + "ff" * 32)
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.pending) == 1 and result.muted == []


def test_expiry_event_fires_the_expiration_trigger_and_is_never_muted(no_delivery, django_capture_on_commit_callbacks):
    hook = make_integration("webhook")
    make_policy("Expired acceptances", [hook], trigger=Trigger.RISK_ACCEPTANCE_EXPIRATION)
    now = timezone.now()
    RiskAcceptanceFactory(expires_at=now - timedelta(seconds=1))
    # Another acceptance of the same finding on every image is still active: it must not mute the expiry.
    RiskAcceptanceFactory(extent=Extent.ALL, registry="", repository="", expires_at=None)
    with django_capture_on_commit_callbacks(execute=True):  # evaluation is queued once the expiry is committed
        acceptances.expire_due()
    expiry = Notification.objects.get()
    assert expiry.status == NotificationStatus.PENDING and expiry.trigger == Trigger.RISK_ACCEPTANCE_EXPIRATION
    assert [e.type for e in expiry.events.all()] == [EventType.RISK_ACCEPTANCE_EXPIRED]


def test_high_malware_reported_after_a_low_one_was_accepted_still_notifies(no_delivery):
    make_policy("Malware", [make_integration("webhook")], trigger=Trigger.MALWARE)
    RiskAcceptanceFactory(type=EventType.MALWARE, finding_id="Miner", severity=Severity.LOW)
    batch = make_batch(1, type=EventType.MALWARE, finding_id="Miner", severity=Severity.HIGH)
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.pending) == 1 and result.muted == []


def test_preview_counts_accepted_events_as_muted(officer_client, officer_request, outputs):
    scope = ScopeFactory(name="Shop", repositories=["shop/*"])
    batch = make_batch(2, received_at=timezone.now() - timedelta(hours=1))
    accept(officer_request, batch.events.order_by("id").first().finding_id)
    body = {
        "name": "Draft",
        "scopes": [scope.pk],
        "trigger": "critical_vulnerabilities",
        "notification_methods": [outputs["hook"].pk],
        "repeat_interval": 3600,
    }
    result = officer_client.post("/api/v1/response-policies/preview/", body, content_type="application/json").json()
    assert (result["events_matched"], result["muted"]) == (2, 1)
