"""The risk acceptance index: which acceptance covers an event, by extent (image by digest or tag, repository,
every image), only while active, never for High or Critical malware nor for the expiry events themselves; and the
per-process cache that a change renews in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from events import acceptances
from events.acceptance_index import AcceptanceIndex, covering_each, get_acceptances
from events.models import EventType, Extent, Severity
from tests.factories import RiskAcceptanceFactory, SecurityEventFactory, UserFactory, global_scope

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


@dataclass
class Row:
    """An event as evaluation reads it (policies.evaluation.EventRow has these attributes)."""

    type: str = EventType.VULNERABILITY
    finding_id: str = "CVE-2024-1000"
    registry: str = "registry.example.com"
    repository: str = "shop/web"
    digest: str = DIGEST
    tag: str = "1.4.2"
    severity: int = Severity.CRITICAL
    id: int = 1


def accepted(**fields):
    return RiskAcceptanceFactory(**fields)


def index():
    return AcceptanceIndex.load()


def test_repository_extent_covers_every_image_of_that_repository_only():
    acceptance = accepted(extent=Extent.REPOSITORY)
    now = timezone.now()
    found = index()
    assert found.covering(Row(digest=OTHER_DIGEST, tag="2.0"), now).id == acceptance.pk
    assert found.covering(Row(repository="shop/api"), now) is None
    assert found.covering(Row(registry="docker.io"), now) is None
    assert found.covering(Row(finding_id="CVE-2024-9999"), now) is None


def test_image_extent_by_digest_covers_that_digest_whatever_its_tag():
    acceptance = accepted(extent=Extent.IMAGE, digest=DIGEST, tag="")
    now = timezone.now()
    found = index()
    assert found.covering(Row(tag="latest"), now).id == acceptance.pk
    assert found.covering(Row(digest=OTHER_DIGEST), now) is None


def test_image_extent_by_tag_covers_that_tag_when_the_acceptance_has_no_digest():
    acceptance = accepted(extent=Extent.IMAGE, digest="", tag="1.4.2")
    now = timezone.now()
    found = index()
    assert found.covering(Row(digest=OTHER_DIGEST, tag="1.4.2"), now).id == acceptance.pk
    assert found.covering(Row(digest="", tag="1.4.2"), now).id == acceptance.pk
    assert found.covering(Row(tag="1.4.3"), now) is None


def test_all_extent_covers_the_finding_everywhere_but_not_another_type():
    acceptance = accepted(extent=Extent.ALL, registry="", repository="")
    now = timezone.now()
    found = index()
    assert found.covering(Row(registry="ghcr.io", repository="team/x", digest="", tag=""), now).id == acceptance.pk
    assert found.covering(Row(type=EventType.MISCONFIGURATION), now) is None


def test_an_acceptance_covers_until_its_end_and_not_after():
    ends = timezone.now() + timedelta(hours=1)
    acceptance = accepted(expires_at=ends)
    found = index()
    assert found.covering(Row(), ends - timedelta(seconds=1)).id == acceptance.pk
    assert found.covering(Row(), ends) is None


def test_unlimited_acceptance_never_ends():
    acceptance = accepted(expires_at=None)
    assert index().covering(Row(), timezone.now() + timedelta(days=3650)).id == acceptance.pk


def test_cancelled_and_recorded_expired_acceptances_cover_nothing():
    now = timezone.now()
    accepted(cancelled_at=now, cancelled_by_name="officer")
    accepted(
        extent=Extent.ALL, registry="", repository="", expires_at=now - timedelta(minutes=1), expiry_recorded_at=now
    )
    assert not index()
    assert index().covering(Row(), now) is None


def test_the_longest_of_several_covering_acceptances_is_the_one_named():
    now = timezone.now()
    accepted(extent=Extent.REPOSITORY, expires_at=now + timedelta(days=1))
    longest = accepted(extent=Extent.ALL, registry="", repository="", expires_at=now + timedelta(days=90))
    accepted(extent=Extent.IMAGE, digest=DIGEST, tag="", expires_at=now + timedelta(days=7))
    assert index().covering(Row(), now).id == longest.pk


def test_high_or_critical_malware_is_never_covered_even_when_accepted_while_low():
    accepted(type=EventType.MALWARE, finding_id="EICAR-Test-File", severity=Severity.LOW)
    now = timezone.now()
    found = index()
    malware = Row(type=EventType.MALWARE, finding_id="EICAR-Test-File")
    assert found.covering(Row(**{**malware.__dict__, "severity": Severity.LOW}), now) is not None
    assert found.covering(Row(**{**malware.__dict__, "severity": Severity.HIGH}), now) is None
    assert found.covering(Row(**{**malware.__dict__, "severity": Severity.CRITICAL}), now) is None


def test_expiry_events_are_never_covered():
    accepted(extent=Extent.ALL, registry="", repository="")
    expiry = Row(type=EventType.RISK_ACCEPTANCE_EXPIRED)
    assert index().covering(expiry, timezone.now()) is None


def test_the_cached_index_is_renewed_in_the_transaction_of_a_change():
    officer = UserFactory(rights=["events.manage_riskacceptance"], scopes=[global_scope()])
    request = RequestFactory().post("/api/v1/risk-acceptances/")
    request.user = officer
    now = timezone.now()
    assert get_acceptances(now).covering(Row(), now) is None
    with transaction.atomic():
        acceptance, _ = acceptances.accept(
            request,
            {
                "type": "vulnerability",
                "finding_id": "CVE-2024-1000",
                "extent": "repository",
                "registry": "registry.example.com",
                "repository": "shop/web",
                "reason": "Mitigated by the WAF",
            },
        )
        assert get_acceptances(now).covering(Row(), now).id == acceptance.pk
    acceptances.cancel(request, acceptance)
    assert get_acceptances(timezone.now()).covering(Row(), timezone.now()) is None


def test_the_cached_index_is_reused_while_nothing_changed(django_assert_num_queries):
    accepted()
    now = timezone.now()
    first = get_acceptances(now)
    with django_assert_num_queries(1):  # the revision only
        assert get_acceptances(now) is first


def test_a_page_of_events_is_matched_in_one_query(django_assert_num_queries):
    acceptance = accepted()
    events = [SecurityEventFactory(index=0), SecurityEventFactory(index=1, repository="shop/api")]
    with django_assert_num_queries(1):
        found = covering_each(events, timezone.now())
    assert {pk: a.id for pk, a in found.items()} == {events[0].pk: acceptance.pk}


def test_among_ten_thousand_acceptances_each_covers_only_its_own_finding_and_repository():
    rows = [
        (n, EventType.VULNERABILITY, f"CVE-2025-{n}", Extent.REPOSITORY, "r", f"team-{n % 40}/svc", "", "", None)
        for n in range(10_000)
    ]
    built = AcceptanceIndex(rows)
    assert len(built) == 10_000
    now = timezone.now()
    assert built.covering(Row(finding_id="CVE-2025-4321", registry="r", repository="team-1/svc"), now).id == 4321
    assert built.covering(Row(finding_id="CVE-2025-4321", registry="r", repository="team-2/svc"), now) is None
