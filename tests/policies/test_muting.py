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


def test_stored_references_parse_back():
    assert muting.parse_reference("silence:12") == ("silence", 12)
    assert muting.parse_reference("acceptance:3") == ("acceptance", 3)
    for junk in ("", "silence:", "silence:x", "policy:1", "acceptance"):
        assert muting.parse_reference(junk) is None
