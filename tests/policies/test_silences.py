"""Silences: what their matchers hold for, their states in time, the compiled index evaluation mutes with, and the
services that create, version and expire them (each with its security event log entry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from events.models import Severity
from kcs.models import AuditEntry
from notifications.models import Notification, NotificationStatus
from policies import evaluation, muting, silence_index, silences
from policies.models import Silence, SilenceState
from policies.silence_index import CompiledSilence, SilenceIndex
from policies.silence_rules import check_silence, parse_duration
from policies.validation import ValidationFailed
from tests.factories import SilenceFactory, make_batch, make_integration, make_policy


@dataclass
class Event:
    type: str = "vulnerability"
    severity: int = Severity.HIGH
    cluster: str = "prod-eu"
    namespace: str = "payments"
    registry: str = "registry.example.com"
    repository: str = "shop/web"
    tag: str = "1.4.2"
    digest: str = "sha256:ab"
    finding_id: str = "CVE-2026-1234"
    source: str = "trivy"
    title: str = "openssl: buffer overflow"
    id: int | None = None


NOW = timezone.now()


def silence(matchers: dict, policies=(), starts=-60, ends=3600, id=1) -> CompiledSilence:
    return CompiledSilence.build(id, matchers, policies, NOW + timedelta(seconds=starts), NOW + timedelta(seconds=ends))


def assert_holds(matchers: dict, event: Event | None = None) -> None:
    assert silence(matchers).holds(event or Event()), matchers


def assert_does_not_hold(matchers: dict, event: Event | None = None) -> None:
    assert not silence(matchers).holds(event or Event()), matchers


# --- matchers -----------------------------------------------------------------------------------------------------
def test_resource_globs_match_the_whole_value_ignoring_case():
    assert_holds({"repository": "SHOP/*"})
    assert_holds({"cluster": "prod-*", "namespace": "pay?ents"})
    assert_does_not_hold({"repository": "shop"})
    assert_does_not_hold({"registry": "*.example.org"})
    assert_holds({"tag": "1.4.*", "registry": "registry.example.com"})


def test_finding_id_accepts_a_glob():
    assert_holds({"finding_id": "cve-2026-*"})
    assert_does_not_hold({"finding_id": "CVE-2025-*"})


def test_every_given_matcher_must_hold():
    assert_holds({"repository": "shop/*", "finding_id": "CVE-2026-1234"})
    assert_does_not_hold({"repository": "shop/*", "finding_id": "CVE-2026-9999"})


def test_max_severity_holds_for_events_at_most_that_severe():
    assert_holds({"max_severity": "high"})
    assert_holds({"max_severity": "high"}, Event(severity=Severity.LOW))
    assert_does_not_hold({"max_severity": "high"}, Event(severity=Severity.CRITICAL))


def test_type_source_and_title_matchers():
    assert_holds({"type": "vulnerability", "source": "Trivy", "title_contains": "BUFFER"})
    assert_does_not_hold({"type": "malware"})
    assert_does_not_hold({"source": "grype"})
    assert_does_not_hold({"title_contains": "use after free"})


def test_a_silence_is_pending_then_active_then_expired():
    stored = Silence(starts_at=NOW, ends_at=NOW + timedelta(hours=1))
    assert stored.state_at(NOW - timedelta(seconds=1)) == SilenceState.PENDING
    assert stored.state_at(NOW) == SilenceState.ACTIVE
    assert stored.state_at(NOW + timedelta(hours=1)) == SilenceState.EXPIRED


# --- the index ----------------------------------------------------------------------------------------------------
def test_index_gives_only_silences_active_at_the_moment_asked():
    index = SilenceIndex(
        [
            silence({"repository": "shop/*"}, id=1),
            silence({"repository": "shop/*"}, starts=600, id=2),  # pending
            silence({"repository": "shop/*"}, starts=-7200, ends=-60, id=3),  # over
        ]
    )
    assert [s.id for s in index.matching(Event(), NOW)] == [1]
    # The pending one becomes active by time alone, without a rebuild.
    assert [s.id for s in index.matching(Event(), NOW + timedelta(seconds=601))] == [1, 2]
    assert index.matching(Event(), NOW + timedelta(hours=2)) == []


def test_index_finds_silences_filed_by_prefix_and_the_ones_without_literal_text_oldest_first():
    index = SilenceIndex(
        [
            silence({"finding_id": "CVE-2026-1234"}, id=5),
            silence({"repository": "shop/*"}, id=3),
            silence({"cluster": "*-eu"}, id=4),  # no literal prefix: tested for every event
            silence({"source": "trivy"}, id=2),
            silence({"type": "vulnerability", "max_severity": "medium"}, id=1),  # HIGH is above: no
            silence({"finding_id": "CVE-2026-12"}, id=6),  # same prefix, not the whole value: no
            silence({"repository": "billing/*"}, id=7),
        ]
    )
    assert [s.id for s in index.matching(Event(), NOW)] == [2, 3, 4, 5]
    assert [s.id for s in index.matching(Event(repository="billing/api", cluster="us"), NOW)] == [2, 5, 7]


def test_index_agrees_with_testing_every_silence_one_by_one():
    """The prefix filing is only a shortcut: for random silences and events it finds exactly what testing each
    silence on its own finds."""
    import random

    rng = random.Random(7)
    values = {
        "repository": ["shop/web", "shop/api", "team-1/x", "Shop/Web", ""],
        "finding_id": ["CVE-2026-1234", "CVE-2026-12345", "GHSA-1", ""],
        "cluster": ["prod-eu", "prod-us", "dev", ""],
        "source": ["trivy", "grype", "falco"],
    }
    patterns = {
        "repository": ["shop/*", "SHOP/WEB", "*/web", "team-?/*", "shop/web"],
        "finding_id": ["CVE-2026-1234", "cve-2026-*", "*-1", "CVE-2026-1234?"],
        "cluster": ["prod-*", "*-us", "dev"],
        "source": ["trivy", "GRYPE"],
        "max_severity": ["low", "high", "critical"],
    }
    compiled = []
    for number in range(1, 200):
        chosen = rng.sample(sorted(patterns), rng.randint(1, 3))
        compiled.append(silence({key: rng.choice(patterns[key]) for key in chosen}, id=number))
    index = SilenceIndex(compiled)
    for _ in range(300):
        event = Event(
            **{key: rng.choice(options) for key, options in values.items()}, severity=rng.choice(list(Severity))
        )
        expected = [s.id for s in compiled if s.holds(event)]
        assert [s.id for s in index.matching(event, NOW)] == expected


@pytest.mark.django_db
def test_cached_index_is_rebuilt_when_a_silence_is_created_or_expired():
    assert not silence_index.get_index()
    stored = silences.create_silence(None, {"matchers": {"repository": "shop/*"}, "duration": "1h", "comment": "x"})
    index = silence_index.get_index()
    assert [s.id for s in index.matching(Event(), timezone.now())] == [stored.pk]
    silences.expire_silence(None, stored)
    assert silence_index.get_index().matching(Event(), timezone.now()) == []


@pytest.mark.django_db
def test_muting_load_hands_evaluation_the_silences():
    stored = SilenceFactory(matchers={"finding_id": "CVE-2026-1234"}, policies=[42])
    mute = muting.load(timezone.now()).reason(Event(id=1), 42, timezone.now())
    assert mute is not None and mute.reference == f"silence:{stored.pk}"
    assert muting.load(timezone.now()).reason(Event(id=1), 43, timezone.now()) is None  # another policy


# --- rules --------------------------------------------------------------------------------------------------------
def refused(values: dict) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        check_silence({"matchers": {"tag": "1.0"}, "duration": "1h", "comment": "why"} | values, NOW)
    return caught.value.errors


@pytest.mark.django_db
def test_rules_name_the_field_at_fault():
    assert "comment" in refused({"comment": "  "})
    assert "matchers" in refused({"matchers": {"colour": "red"}})
    assert "matchers" in refused({"matchers": {"repository": 7}})
    assert "matchers" in refused({"matchers": {"max_severity": "apocalyptic"}})
    assert "matchers" in refused({"matchers": {}})
    assert "matchers" in refused({"matchers": ["repository", "shop/*"]})
    assert "ends_at" in refused({"duration": None, "starts_at": NOW, "ends_at": NOW - timedelta(hours=1)})
    assert "ends_at" in refused({"duration": None})
    assert "duration" in refused({"duration": "soon"})
    assert "duration" in refused({"ends_at": NOW + timedelta(hours=2)})  # both
    assert "policies" in refused({"policies": [999999]})
    assert "starts_at" in refused({"starts_at": "yesterday-ish"})


def test_durations_read_as_people_write_them():
    assert parse_duration("90m") == timedelta(minutes=90)
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration("2w") == timedelta(days=14)
    assert parse_duration("3600") == timedelta(hours=1)
    assert parse_duration(60) == timedelta(minutes=1)
    for junk in ("", "0", "-5m", "tomorrow", "5x", True, 1.5):
        assert parse_duration(junk) is None, junk


# --- services -----------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_editing_stores_a_new_version_and_expires_the_old_one_with_log_entries():
    first = silences.create_silence(None, {"matchers": {"repository": "shop/*"}, "duration": "4h", "comment": "a"})
    second = silences.update_silence(None, first, {"comment": "longer", "duration": "8h"})
    first.refresh_from_db()
    assert second.pk != first.pk and second.replaces == first
    assert second.matchers == {"repository": "shop/*"} and second.comment == "longer"
    assert first.state_at(timezone.now()) == SilenceState.EXPIRED and first.expired_at is not None
    logged = {(e.object_id, e.action) for e in AuditEntry.objects.filter(object_type="silence")}
    assert logged == {(str(first.pk), "create"), (str(first.pk), "update"), (str(second.pk), "create")}
    with pytest.raises(ValidationFailed) as caught:
        silences.update_silence(None, first, {"comment": "again"})
    assert "replaced by" in caught.value.errors["non_field_errors"][0]


@pytest.mark.django_db
def test_expiring_a_pending_silence_means_it_never_starts():
    pending = silences.create_silence(
        None,
        {
            "matchers": {"tag": "latest"},
            "starts_at": timezone.now() + timedelta(days=1),
            "duration": "1d",
            "comment": "x",
        },
    )
    assert silences.expire_silence(None, pending) is True
    pending.refresh_from_db()
    assert pending.state_at(timezone.now()) == SilenceState.EXPIRED and pending.starts_at == pending.ends_at
    assert silences.expire_silence(None, pending) is False  # nothing more to do, nothing logged
    assert AuditEntry.objects.filter(object_type="silence", action="update").count() == 1


@pytest.mark.django_db
def test_silence_mutes_its_matches_in_evaluation_and_the_rows_name_it(monkeypatch):
    monkeypatch.setattr("policies.evaluation.first_deliveries", lambda result: None)
    quiet = make_policy("Quiet", [make_integration("webhook")])
    loud = make_policy("Loud", [make_integration("webhook")])
    stored = silences.create_silence(
        None,
        {"matchers": {"finding_id": "CVE-2024-1000"}, "policies": [quiet.pk], "duration": "1h", "comment": "x"},
    )
    batch = make_batch(2)
    result = evaluation.evaluate_batch(str(batch.id))
    assert len(result.muted) == 1
    muted = Notification.objects.get(muted_by=f"silence:{stored.pk}")
    assert muted.policy_id == quiet.pk and muted.status == NotificationStatus.MUTED
    assert [e.finding_id for e in muted.events.all()] == ["CVE-2024-1000"]
    assert Notification.objects.get(policy=loud).events.count() == 2
