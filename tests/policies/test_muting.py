"""Muting in evaluation: what a risk acceptance or a silence holds back is recorded as a muted row, never sent,
never starts a repeat interval, and the decision trace names what muted it.

The mute sources here are small in-memory indexes with the interface :mod:`policies.muting` documents; the real
ones (risk acceptances, silences) are tested end to end with their own features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from notifications.models import Notification, NotificationStatus
from policies import evaluation, muting
from policies.decisions import trace
from policies.engine import Verdict
from tests.factories import make_batch, make_integration, make_policy

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class FakeMute:
    id: int
    finding_id: str
    policy_ids: frozenset = field(default_factory=frozenset)


class FindingIndex:
    """Mutes by finding id: ``covering`` for acceptances, ``matching`` for silences."""

    def __init__(self, *mutes: FakeMute):
        self.mutes = mutes

    def __bool__(self) -> bool:
        return bool(self.mutes)

    def covering(self, event, now):
        return next((m for m in self.mutes if m.finding_id == event.finding_id), None)

    def matching(self, event, now):
        return [m for m in self.mutes if m.finding_id == event.finding_id]


@pytest.fixture
def mutes(monkeypatch):
    """Install the mute sources evaluation will load."""
    installed = muting.Mutes()
    monkeypatch.setattr(muting, "load", lambda now: installed)
    return installed


@pytest.fixture
def no_delivery(monkeypatch):
    monkeypatch.setattr("policies.evaluation.first_deliveries", lambda result: None)


def evaluate(batch):
    return evaluation.evaluate_batch(str(batch.id))


def test_accepted_finding_is_recorded_as_muted_and_not_sent(mutes, no_delivery):
    policy = make_policy("Crit", [make_integration("webhook")])
    batch = make_batch(2)
    accepted, other = batch.events.order_by("id")
    mutes.acceptances = FindingIndex(FakeMute(7, accepted.finding_id))
    result = evaluate(batch)
    assert len(result.pending) == 1 and len(result.muted) == 1
    muted = Notification.objects.get(status=NotificationStatus.MUTED)
    assert muted.muted_by == "acceptance:7" and list(muted.events.all()) == [accepted]
    sent = Notification.objects.get(status=NotificationStatus.PENDING)
    assert list(sent.events.all()) == [other]
    [decision] = trace(accepted)
    assert (decision.policy_id, decision.verdict, decision.acceptance) == (policy.pk, Verdict.ACCEPTED, 7)
    assert decision.as_dict()["acceptance"] == 7 and "risk acceptance #7" in decision.reason


def test_silence_for_another_policy_leaves_this_one_loud(mutes, no_delivery):
    hook = make_integration("webhook")
    quiet, loud = make_policy("Quiet", [hook]), make_policy("Loud", [hook])
    batch = make_batch(1)
    event = batch.events.get()
    mutes.silences = FindingIndex(FakeMute(3, event.finding_id, frozenset({quiet.pk})))
    evaluate(batch)
    rows = {n.policy_id: n for n in Notification.objects.all()}
    assert rows[quiet.pk].status == NotificationStatus.MUTED and rows[quiet.pk].muted_by == "silence:3"
    assert rows[loud.pk].status == NotificationStatus.PENDING
    verdicts = {d.policy_id: (d.verdict, d.silence) for d in trace(event)}
    assert verdicts == {quiet.pk: (Verdict.SILENCED, 3), loud.pk: (Verdict.MATCHED, None)}


def test_a_muted_finding_starts_no_repeat_interval(mutes, no_delivery):
    """Once the silence is gone, the next report of the same finding is sent, not suppressed as a repeat."""
    make_policy("Crit", [make_integration("webhook")], repeat_interval=3600)
    first = make_batch(1, finding_id="CVE-2026-0001")
    mutes.silences = FindingIndex(FakeMute(1, "CVE-2026-0001"))
    evaluate(first)
    mutes.silences = None
    second = make_batch(1, finding_id="CVE-2026-0001")
    result = evaluate(second)
    assert len(result.pending) == 1 and result.suppressed == []


def test_acceptance_wins_over_silence(mutes, no_delivery):
    make_policy("Crit", [make_integration("webhook")])
    batch = make_batch(1)
    finding = batch.events.get().finding_id
    mutes.acceptances = FindingIndex(FakeMute(5, finding))
    mutes.silences = FindingIndex(FakeMute(6, finding))
    evaluate(batch)
    assert Notification.objects.get().muted_by == "acceptance:5"


def test_rows_of_a_mixed_batch_keep_every_event_and_field(mutes, no_delivery):
    """Several policies and outputs over one batch, part muted by a silence, part by an acceptance, part repeats:
    each row names its policy, trigger, output and batch, and the trace of every event tells its own fate."""
    hook, chat = make_integration("webhook"), make_integration("telegram")
    wide = make_policy("Wide", [hook, chat], repeat_interval=3600)
    make_policy("Narrow", [hook], repeat_interval=3600)
    evaluate(make_batch(1))  # finding 0 notified: a repeat in the next batch
    batch = make_batch(4)
    repeat, silenced, accepted, fresh = batch.events.order_by("id")
    mutes.silences = FindingIndex(FakeMute(3, silenced.finding_id, frozenset({wide.pk})))
    mutes.acceptances = FindingIndex(FakeMute(9, accepted.finding_id))
    result = evaluate(batch)
    rows = Notification.objects.filter(batch=batch)
    assert len(result.pending) + len(result.suppressed) + len(result.muted) == rows.count()
    seen = {
        (n.policy_name, n.integration_name, n.status, n.muted_by): sorted(e.pk for e in n.events.all()) for n in rows
    }
    assert seen == {
        ("Wide", hook.name, "pending", ""): [fresh.pk],
        ("Wide", chat.name, "pending", ""): [fresh.pk],
        ("Narrow", hook.name, "pending", ""): sorted([silenced.pk, fresh.pk]),
        ("Wide", hook.name, "suppressed", ""): [repeat.pk],
        ("Wide", chat.name, "suppressed", ""): [repeat.pk],
        ("Narrow", hook.name, "suppressed", ""): [repeat.pk],
        ("Wide", hook.name, "muted", "silence:3"): [silenced.pk],
        ("Wide", chat.name, "muted", "silence:3"): [silenced.pk],
        ("Wide", hook.name, "muted", "acceptance:9"): [accepted.pk],
        ("Wide", chat.name, "muted", "acceptance:9"): [accepted.pk],
        ("Narrow", hook.name, "muted", "acceptance:9"): [accepted.pk],
    }
    assert {(n.trigger, n.trigger_label, n.batch_id) for n in rows} == {
        ("critical_vulnerabilities", "Critical vulnerabilities", batch.id)
    }
    assert len({n.idempotency_key for n in rows}) == rows.count()
    fates = {e.pk: {d.policy_name: (d.verdict, d.silence, d.acceptance) for d in trace(e)} for e in batch.events.all()}
    assert fates[silenced.pk] == {"Wide": (Verdict.SILENCED, 3, None), "Narrow": (Verdict.MATCHED, None, None)}
    assert fates[accepted.pk] == {"Wide": (Verdict.ACCEPTED, None, 9), "Narrow": (Verdict.ACCEPTED, None, 9)}
    assert fates[repeat.pk] == {"Wide": (Verdict.SUPPRESSED, None, None), "Narrow": (Verdict.SUPPRESSED, None, None)}
    assert fates[fresh.pk] == {"Wide": (Verdict.MATCHED, None, None), "Narrow": (Verdict.MATCHED, None, None)}


def test_stored_references_parse_back():
    assert muting.parse_reference("silence:12") == ("silence", 12)
    assert muting.parse_reference("acceptance:3") == ("acceptance", 3)
    for junk in ("", "silence:", "silence:x", "policy:1", "acceptance"):
        assert muting.parse_reference(junk) is None
