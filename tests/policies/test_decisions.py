"""The decision trace: why a stored event did or did not notify, on the event page and in the API.

The engine's verdicts (matched, below the threshold, out of scope) must be the engine's own answer: a randomized
test holds :meth:`PolicyIndex.explain` and :meth:`PolicyIndex.match` together over thousands of events.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from events.models import EventType, SecurityEvent, Severity
from notifications.models import Notification, NotificationStatus
from policies import evaluation
from policies.engine import PolicyIndex, Verdict
from policies.index_cache import invalidate
from policies.models import ResponsePolicy, Trigger
from tests.factories import (
    NotificationFactory,
    RiskAcceptanceFactory,
    ScopeFactory,
    SecurityEventFactory,
    UserFactory,
    global_scope,
    make_batch,
    make_integration,
    make_policy,
)
from tests.helpers import GLOBAL, compiled, event, scope

pytestmark = pytest.mark.django_db


# --- the engine: one implementation ---------------------------------------------------------------------------------
VALUES = {
    "cluster": ["prod-eu", "prod-us", "dev-1", "", "PROD-eu"],
    "namespace": ["payments", "shop", "kube-system", ""],
    "registry": ["registry.example.com", "docker.io", ""],
    "repository": ["shop/web", "shop/api", "team-7/db", "library/nginx", ""],
}
PATTERNS = {
    "clusters": ["prod-*", "dev-?", "*-eu", "prod-eu"],
    "namespaces": ["payments", "shop", "kube-*"],
    "registries": ["registry.example.com", "docker.*"],
    "repositories": ["shop/*", "team-[0-9]/*", "library/nginx", "*"],
}


@pytest.mark.parametrize("seed", range(5))
def test_explain_says_matched_exactly_when_the_engine_matches(seed):
    rng = random.Random(seed)
    scopes = [GLOBAL]
    for scope_id in range(2, 12):
        chosen = rng.sample(sorted(PATTERNS), rng.randint(1, 3))
        scopes.append(scope(scope_id, **{name: rng.sample(PATTERNS[name], rng.randint(1, 2)) for name in chosen}))
    policies = [
        compiled(
            id=policy_id,
            trigger=rng.choice(list(Trigger)),
            min_severity=rng.choice([None, *Severity]) if rng.random() < 0.7 else None,
            scopes=rng.sample([s.id for s in scopes], rng.randint(1, 3)),
        )
        for policy_id in range(1, 60)
    ]
    # A threshold on a trigger without one is refused by validation; the engine ignores it, so mirror that.
    index = PolicyIndex(policies, scopes)
    checked = matched = 0
    for _ in range(2000):
        ev = event(
            type=rng.choice(list(EventType)),
            severity=rng.choice(list(Severity)),
            **{name: rng.choice(values) for name, values in VALUES.items()},
        )
        explained = index.explain(ev)
        assert {e.policy.id for e in explained} == {p.id for p in policies if p.event_type == ev.type}
        said = {e.policy.id for e in explained if e.verdict == Verdict.MATCHED}
        assert said == {p.id for p in index.match(ev)}, ev.__dict__
        for explanation in explained:
            if explanation.verdict == Verdict.BELOW_THRESHOLD:
                assert ev.severity < explanation.policy.threshold
        checked += len(explained)
        matched += len(said)
    assert checked > 1000 and 0 < matched < checked  # both verdicts occurred


def test_reasons_name_the_threshold_and_the_failing_scope_fields():
    prod = scope(2, clusters=["prod-*"], namespaces=["payments"])
    high = compiled(id=1, trigger=Trigger.CRITICAL_VULNERABILITIES, min_severity=Severity.HIGH, scopes=[2])
    index = PolicyIndex([high], [GLOBAL, prod])
    [low] = index.explain(event(EventType.VULNERABILITY, Severity.MEDIUM, cluster="prod-eu", namespace="payments"))
    assert low.verdict == Verdict.BELOW_THRESHOLD
    assert low.reason == "Severity Medium is below the policy's threshold High."
    [outside] = index.explain(event(EventType.VULNERABILITY, Severity.CRITICAL, cluster="dev-1", namespace="payments"))
    assert outside.verdict == Verdict.OUT_OF_SCOPE
    assert "scope “scope 2” does not contain cluster “dev-1”" in outside.reason
    assert "namespace" not in outside.reason  # only the fields that failed
    [hit] = index.explain(event(EventType.VULNERABILITY, Severity.HIGH, cluster="prod-eu", namespace="payments"))
    assert hit.verdict == Verdict.MATCHED and "scope 2" in hit.reason


# --- the trace of stored events -------------------------------------------------------------------------------------
@pytest.fixture
def delivered(monkeypatch):
    """Delivery stood in for: a first attempt marks the row sent (the trace reads what evaluation stored)."""

    def deliver(pk, drain=True, loaded=None, events=None):
        Notification.objects.filter(pk=pk).update(
            attempts=F("attempts") + 1, status=NotificationStatus.SENT, sent_at=timezone.now()
        )

    monkeypatch.setattr("notifications.delivery.deliver", deliver)
    monkeypatch.setattr("policies.evaluation.send_now", lambda *args, **kwargs: True)


def evaluated(batch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_batch(str(batch.id))
    return SecurityEvent.objects.filter(batch=batch).order_by("id").first()


@pytest.fixture
def policies(db):
    hook = make_integration("webhook", "SOC hook")
    prod = ScopeFactory(name="Production", repositories=["shop/*"])
    staging = ScopeFactory(name="Staging", clusters=["staging-*"])
    return {
        "hook": hook,
        "critical": make_policy("Critical in prod", [hook], scopes=[prod], min_severity=Severity.CRITICAL),
        "staging": make_policy("Staging only", [hook], scopes=[staging], min_severity=Severity.LOW),
        "high": make_policy("High and up", [hook], min_severity=Severity.HIGH, repeat_interval=3600),
        "malware": make_policy("Malware", [hook], trigger=Trigger.MALWARE),  # another type: not listed
        "off": make_policy("Disabled", [hook], enabled=False),
    }


def decisions_of(client, event) -> dict[str, dict]:
    response = client.get(f"/api/v1/events/{event.pk}/decisions/")
    assert response.status_code == 200, response.content
    return {row["policy_name"]: row for row in response.json()}


def test_api_lists_every_enabled_policy_of_the_type_with_verdict_and_reason(
    policies, officer_client, delivered, django_capture_on_commit_callbacks
):
    ev = evaluated(make_batch(1, severity=Severity.HIGH), django_capture_on_commit_callbacks)
    rows = decisions_of(officer_client, ev)
    assert set(rows) == {"Critical in prod", "Staging only", "High and up"}
    assert rows["Critical in prod"]["verdict"] == "below_threshold"
    assert "below the policy's threshold Critical" in rows["Critical in prod"]["reason"]
    assert rows["Staging only"]["verdict"] == "out_of_scope"
    assert "cluster “”" in rows["Staging only"]["reason"]
    matched = rows["High and up"]
    notification = Notification.objects.get(policy=policies["high"])
    assert matched["verdict"] == "matched" and matched["notification"] == notification.pk
    assert "Notified through “SOC hook”: Sent" in matched["reason"]
    assert set(matched) == {"policy", "policy_name", "verdict", "reason", "notification", "acceptance", "silence"}


def test_repeat_within_the_interval_points_at_the_earlier_notification(
    policies, officer_client, delivered, django_capture_on_commit_callbacks
):
    evaluated(make_batch(1, severity=Severity.HIGH), django_capture_on_commit_callbacks)
    first = Notification.objects.get(policy=policies["high"])
    again = evaluated(make_batch(1, severity=Severity.HIGH), django_capture_on_commit_callbacks)
    row = decisions_of(officer_client, again)["High and up"]
    assert row["verdict"] == "suppressed" and row["notification"] == first.pk
    assert "repeat interval (1 h)" in row["reason"]


def test_policy_created_or_changed_after_evaluation_says_so(
    policies, officer_client, delivered, django_capture_on_commit_callbacks
):
    ev = evaluated(make_batch(1, severity=Severity.MEDIUM), django_capture_on_commit_callbacks)
    ResponsePolicy.objects.filter(pk=policies["high"].pk).update(
        min_severity=Severity.LOW, updated_at=timezone.now() + timedelta(seconds=1)
    )
    invalidate()  # the bulk update above sends no signal
    row = decisions_of(officer_client, ev)["High and up"]
    assert row["verdict"] == "policy_changed"
    assert "after this event was evaluated" in row["reason"] and "As it is now: matched" in row["reason"]


def test_event_page_shows_the_trace_to_people_who_may_view_policies(
    policies, officer_client, client, delivered, django_capture_on_commit_callbacks
):
    ev = evaluated(make_batch(1, severity=Severity.HIGH), django_capture_on_commit_callbacks)
    page = officer_client.get(f"/events/{ev.pk}/").content.decode()
    assert "Why did this notify?" in page
    for text in ("Critical in prod", "Below threshold", "Staging only", "Out of scope", "High and up", "Matched"):
        assert text in page
    assert "Disabled" not in page.split("Why did this notify?")[1]

    viewer = UserFactory(username="events-only", rights=["events.view_securityevent"], scopes=[global_scope()])
    client.force_login(viewer)
    page = client.get(f"/events/{ev.pk}/")
    assert page.status_code == 200 and "Why did this notify?" not in page.content.decode()


def test_trace_needs_both_rights_and_an_existing_event(policies, client, django_capture_on_commit_callbacks):
    ev = SecurityEvent.objects.get(batch=make_batch(1))
    assert client.get(f"/api/v1/events/{ev.pk}/decisions/").status_code in (401, 403)
    client.force_login(
        UserFactory(username="events-only", rights=["events.view_securityevent"], scopes=[global_scope()])
    )
    assert client.get(f"/api/v1/events/{ev.pk}/decisions/").status_code == 403
    client.force_login(UserFactory(username="officer2", groups=["IS officer"]))
    assert client.get(f"/api/v1/events/{ev.pk + 1000}/decisions/").status_code == 404


def test_many_policies_that_did_not_match_are_folded_behind_a_link(
    officer_client, delivered, django_capture_on_commit_callbacks
):
    hook = make_integration("webhook", "SOC hook")
    elsewhere = ScopeFactory(name="Elsewhere", clusters=["nowhere-*"])
    for n in range(25):
        make_policy(f"Other team {n:02d}", [hook], scopes=[elsewhere], min_severity=Severity.LOW)
    make_policy("Ours", [hook], min_severity=Severity.LOW)
    ev = evaluated(make_batch(1), django_capture_on_commit_callbacks)
    page = officer_client.get(f"/events/{ev.pk}/").content.decode()
    assert "Ours" in page and page.count("badge-verdict-out_of_scope") == 20
    assert "Show the 5 other policies that did not match" in page and "matched 1, out of scope 25" in page
    everything = officer_client.get(f"/events/{ev.pk}/?decisions=all").content.decode()
    assert everything.count("badge-verdict-out_of_scope") == 25 and "Show the" not in everything


def test_event_page_links_the_risk_acceptance_that_muted_it(policies, officer_client):
    acceptance = RiskAcceptanceFactory()
    ev = SecurityEventFactory(batch__evaluated_at=timezone.now())
    NotificationFactory(
        policy=policies["high"], status=NotificationStatus.MUTED, muted_by=f"acceptance:{acceptance.pk}", events=[ev]
    )
    html = officer_client.get(f"/events/{ev.pk}/").content.decode()
    assert f'href="/policies/risk-acceptance/{acceptance.pk}/"' in html and "Risk accepted" in html
    row = decisions_of(officer_client, ev)["High and up"]
    assert (row["verdict"], row["acceptance"]) == ("accepted", acceptance.pk)
