"""The preview's fast replay (a verdict per distinct finding, compact rows read from SQL) against the plain one: every
stored event of the window matched by the engine and muted through policies.muting one by one, in arrival order."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import EventType, SecurityEvent, Severity
from notifications.models import NotificationIntegration
from policies import muting, preview
from policies.engine import PolicyIndex
from policies.models import Trigger
from policies.validation import MethodChoice
from tests.factories import EventBatchFactory, RiskAcceptanceFactory, ScopeFactory, SecurityEventFactory, SilenceFactory

pytestmark = pytest.mark.django_db

REPOSITORIES = ["shop/web", "shop/api", "Shop/Admin", "billing/api"]
CLUSTERS = ["prod-eu-1", "prod-us-1", "stage"]
FINDINGS = [f"CVE-2024-{1000 + n}" for n in range(6)]


def reference(values: dict, days: int, now, policy_id: int | None = None) -> dict:
    """What the preview must say, computed the plain way from every stored event (no SQL narrowing, no keys)."""
    policy, scopes = preview.compile_draft(values, policy_id)
    index = PolicyIndex([policy], scopes)
    mutes = muting.load(now)
    since = now - timedelta(days=days)
    events = SecurityEvent.objects.filter(received_at__gte=since - timedelta(seconds=policy.repeat_interval))
    matched_all = [e for e in events.order_by("received_at", "id") if index.match(e)]
    heard = [e for e in matched_all if mutes.reason(e, policy.id, now) is None]
    matched = [e for e in matched_all if e.received_at >= since]
    outputs = len(policy.integration_ids)
    quiet_until, batches, suppressed, per_day = {}, set(), 0, Counter()
    for event in heard:
        counted = event.received_at >= since
        until = quiet_until.get(event.fingerprint)
        if until is not None and event.received_at < until:
            suppressed += counted
            continue
        quiet_until[event.fingerprint] = event.received_at + timedelta(seconds=policy.repeat_interval)
        if counted and event.batch_id not in batches:
            batches.add(event.batch_id)
            per_day[timezone.localtime(event.received_at).date()] += outputs
    events_per_day = Counter(timezone.localtime(e.received_at).date() for e in matched)
    worst = sorted(matched, key=lambda e: (e.severity, e.cvss if e.cvss is not None else -1, e.id), reverse=True)
    return {
        "events_matched": len(matched),
        "notifications": len(batches) * outputs,
        "muted": len(matched) - sum(1 for e in heard if e.received_at >= since),
        "suppressed": suppressed,
        "per_day": {day: (n, per_day[day]) for day, n in events_per_day.items()},
        "worst": [e.pk for e in worst[: preview.WORST_COUNT]],
    }


def summary(result: dict) -> dict:
    return {
        "events_matched": result["events_matched"],
        "notifications": result["notifications"],
        "muted": result["muted"],
        "suppressed": result["suppressed"],
        "per_day": {d["date"]: (d["events"], d["notifications"]) for d in result["per_day"] if d["events"]},
        "worst": [e.pk for e in result["worst"]],
    }


def stored_history(rng: random.Random, now) -> None:
    """Batches over twelve days of rescans: a few findings on a few resources, repeated with varying severities,
    titles and sources (so findings share fingerprints but not always every field muting reads)."""
    for _ in range(60):
        batch = EventBatchFactory(received_at=now - timedelta(minutes=rng.randrange(12 * 24 * 60)))
        for _ in range(rng.randrange(1, 6)):
            index = rng.randrange(len(FINDINGS))
            SecurityEventFactory(
                batch=batch,
                index=index,
                type=rng.choice([EventType.VULNERABILITY] * 4 + [EventType.MALWARE]),
                severity=rng.choice(list(Severity)),
                repository=rng.choice(REPOSITORIES),
                cluster=rng.choice(CLUSTERS),
                title=rng.choice(["openssl overflow", "OpenSSL Overflow", "zlib"]),
                source=rng.choice(["trivy", "grype"]),
                cvss=rng.choice([None, 5.0, 9.8]),
                received_at=batch.received_at,
                fingerprint=f"fp-{index}-{rng.randrange(3)}",
            )


def draft(rng: random.Random, outputs: list[NotificationIntegration], repeat_interval: int) -> dict:
    scope = ScopeFactory(
        name=f"Scope {rng.random()}",
        repositories=rng.choice([["shop/*"], ["shop/[wa]*"], ["SHOP/*", "billing/api"], []]),
        clusters=rng.choice([[], ["prod-*"], ["prod-eu-?"]]),
    )
    return {
        "scopes": [scope],
        "trigger": rng.choice([Trigger.CRITICAL_VULNERABILITIES, Trigger.MALWARE]),
        "min_severity": rng.choice([None, Severity.LOW, Severity.HIGH]),
        "repeat_interval": repeat_interval,
        "notification_methods": [MethodChoice(output) for output in outputs],
    }


@pytest.mark.parametrize("seed", range(6))
def test_fast_replay_says_what_the_plain_one_does(seed, outputs, monkeypatch):
    rng = random.Random(seed)
    now = timezone.now()
    stored_history(rng, now)
    RiskAcceptanceFactory(finding_id=FINDINGS[1], repository="shop/web")
    SilenceFactory(
        matchers={"title_contains": "zlib"}, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
    )
    SilenceFactory(
        matchers={"finding_id": FINDINGS[2], "source": "grype"},
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
    )
    methods = list(outputs.values())[: rng.randrange(1, 3)]
    seen = Counter()
    for repeat_interval in (0, 3600, 2 * 86400, 4 * 86400):
        values = draft(rng, methods, repeat_interval)
        for days in preview.DAYS_CHOICES:
            expected = reference(values, days, now)
            assert summary(preview.preview(values, days, now=now)) == expected
            # The portable reading of the rows (other databases) agrees too.
            with monkeypatch.context() as patch:
                patch.setattr(preview, "_candidates_postgresql", preview._candidates_portable)
                assert summary(preview.preview(values, days, now=now)) == expected
            seen.update({key: expected[key] for key in ("notifications", "muted", "suppressed")})
    assert all(seen[key] for key in ("notifications", "muted", "suppressed")), seen  # every step was exercised


def test_events_alike_but_for_one_field_muting_reads_are_decided_apart(outputs):
    """Two events of one finding that differ only in the title: a silence on the title mutes one of them."""
    now = timezone.now()
    batch = EventBatchFactory(received_at=now - timedelta(hours=1))
    kept = SecurityEventFactory(batch=batch, index=0, title="openssl", received_at=batch.received_at)
    SecurityEventFactory(batch=batch, index=0, title="openssl (vendored)", received_at=batch.received_at)
    SilenceFactory(
        matchers={"title_contains": "vendored"}, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
    )
    values = {
        "scopes": [ScopeFactory(name="Shop", repositories=["shop/*"])],
        "trigger": Trigger.CRITICAL_VULNERABILITIES,
        "min_severity": None,
        "repeat_interval": 0,
        "notification_methods": [MethodChoice(outputs["mail"])],
    }
    result = preview.preview(values, 1, now=now)
    assert (result["events_matched"], result["muted"], result["notifications"]) == (2, 1, 1)
    assert kept.pk in [e.pk for e in result["worst"]]
