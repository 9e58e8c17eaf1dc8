"""The risk acceptance screens: Accept risk on the event page and from the events list (without JavaScript),
Policies → Risk acceptance with search, filters, sorting, Cancel and Extend, "Accepted until …" on the events
screens, rights, and the Django admin going through the same services."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import EventType, Extent, RiskAcceptance, Severity
from kcs.models import AuditEntry
from tests.factories import RiskAcceptanceFactory, SecurityEventFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = "/policies/risk-acceptance/"


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


def text(response) -> str:
    """The page's visible text, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def accept_form(**fields) -> dict:
    return {"extent": "repository", "reason": "Not reachable from outside", "period": "30"} | fields


def test_event_page_offers_accept_risk_to_officers_only(officer_client, auditor):
    event = SecurityEventFactory()
    auditor_client = Client()
    auditor_client.force_login(auditor)
    page = officer_client.get(f"/events/{event.pk}/")
    assert "Accept risk" in page.content.decode() and 'name="reason"' in page.content.decode()
    auditor_page = auditor_client.get(f"/events/{event.pk}/").content.decode()
    assert 'name="reason"' not in auditor_page and "Not accepted." in auditor_page


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"type": EventType.MALWARE, "severity": Severity.HIGH}, "Malware of High or Critical severity"),
        ({"type": EventType.MALWARE, "severity": Severity.CRITICAL}, "Malware of High or Critical severity"),
        ({"type": EventType.RUNTIME}, "“runtime threat” findings cannot"),
        ({"type": EventType.NON_COMPLIANT}, "“non-compliant” findings cannot"),
    ],
)
def test_event_page_does_not_offer_what_can_never_be_accepted(officer_client, fields, words):
    event = SecurityEventFactory(**fields)
    page = officer_client.get(f"/events/{event.pk}/").content.decode()
    assert 'name="reason"' not in page and words in page


def test_accepting_from_the_event_page_shows_accepted_until_on_the_event(officer_client):
    event = SecurityEventFactory()
    answer = officer_client.post("/events/accept/", accept_form(event=event.pk, period="90"))
    assert answer.status_code == 302 and answer["Location"] == f"/events/{event.pk}/"
    acceptance = RiskAcceptance.objects.get()
    assert (acceptance.finding_id, acceptance.extent, acceptance.repository) == (
        event.finding_id,
        Extent.REPOSITORY,
        event.repository,
    )
    assert abs((acceptance.expires_at - (timezone.now() + timedelta(days=90))).total_seconds()) < 30
    page = text(officer_client.get(f"/events/{event.pk}/"))
    assert f"Accepted until {timezone.localtime(acceptance.expires_at):%Y-%m-%d %H:%M}" in page
    assert "Risk accepted (1 new)" in page
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.source, entry.actor_name) == ("accept", "ui", "officer")


def test_unlimited_acceptance_shows_accepted_unlimited(officer_client):
    event = SecurityEventFactory()
    officer_client.post("/events/accept/", accept_form(event=event.pk, period="unlimited", extent="image"))
    assert RiskAcceptance.objects.get().digest == event.digest
    assert "Accepted (unlimited)" in text(officer_client.get(f"/events/{event.pk}/"))


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"reason": ""}, "This field is required."),
        ({"period": "until"}, "Pick the date and time the acceptance ends."),
        ({"period": "until", "expires_at": "2020-01-01T10:00"}, "Must be in the future"),
        ({"extent": "cluster"}, "Select a valid choice"),
    ],
)
def test_a_refused_acceptance_is_shown_with_its_reason_and_stores_nothing(officer_client, fields, words):
    event = SecurityEventFactory()
    answer = officer_client.post("/events/accept/", accept_form(event=event.pk, **fields))
    assert answer.status_code == 400 and words in answer.content.decode()
    assert not RiskAcceptance.objects.exists() and not AuditEntry.objects.exists()


def test_events_list_selects_events_and_accepts_them_in_bulk_without_javascript(officer_client):
    first = SecurityEventFactory(index=1)
    second = SecurityEventFactory(index=2, repository="shop/api")
    same_finding = SecurityEventFactory(index=1, tag="1.4.3")
    listing = officer_client.get("/events/").content.decode()
    assert listing.count('type="checkbox" name="event"') == 3 and 'action="/events/accept/"' in listing
    page = officer_client.get("/events/accept/", {"event": [first.pk, second.pk, same_finding.pk]})
    assert page.status_code == 200 and all(f"#{e.pk}" in page.content.decode() for e in (first, second, same_finding))
    answer = officer_client.post("/events/accept/", accept_form(event=[first.pk, second.pk, same_finding.pk]))
    assert answer.status_code == 302 and answer["Location"] == LIST
    # first and same_finding are the same finding in the same repository: one acceptance.
    assert sorted(RiskAcceptance.objects.values_list("finding_id", "repository")) == [
        (first.finding_id, "shop/web"),
        (second.finding_id, "shop/api"),
    ]
    assert AuditEntry.objects.filter(action="accept").count() == 2
    assert "Risk accepted (2 new)" in text(officer_client.get(LIST))


def test_bulk_accept_refuses_the_whole_selection_when_one_event_cannot_be_accepted(officer_client):
    fine = SecurityEventFactory()
    malware = SecurityEventFactory(type=EventType.MALWARE, finding_id="Trojan.Miner", severity=Severity.CRITICAL)
    listing = officer_client.get("/events/").content.decode()
    assert f'value="{malware.pk}"' not in listing and f'value="{fine.pk}"' in listing
    answer = officer_client.post("/events/accept/", accept_form(event=[fine.pk, malware.pk]))
    assert answer.status_code == 400
    assert f"Event {malware.pk}: Malware of High or Critical severity" in answer.content.decode()
    assert not RiskAcceptance.objects.exists()


def test_event_ids_that_are_not_ids_select_nothing(officer_client):
    page = officer_client.get("/events/accept/", {"event": ["9" * 5000, "²", "-1", "0", "x"]})
    assert page.status_code == 200 and "No event selected" in page.content.decode()


def test_accepting_needs_the_manage_right_and_a_csrf_token(auditor_client, officer):
    event = SecurityEventFactory()
    assert auditor_client.get("/events/accept/", {"event": event.pk}).status_code == 403
    assert auditor_client.post("/events/accept/", accept_form(event=event.pk)).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(officer)
    assert strict.post("/events/accept/", accept_form(event=event.pk)).status_code == 403
    assert not RiskAcceptance.objects.exists()
    assert 'name="event"' not in auditor_client.get("/events/").content.decode()  # no row to select


def test_events_list_shows_accepted_events_with_one_query_however_many(officer_client):
    RiskAcceptanceFactory(finding_id="CVE-2024-1001", expires_at=None)
    RiskAcceptanceFactory(finding_id="CVE-2024-1002", cancelled_at=timezone.now(), cancelled_by_name="x")
    for index in range(1, 4):
        SecurityEventFactory(index=index)
    page = officer_client.get("/events/")
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r'<tr id="event-(\d+)">(.*?)</tr>', page.content.decode(), re.S)
    }
    accepted = [pk for pk, row in rows.items() if "Accepted (unlimited)" in row]
    assert len(rows) == 3 and len(accepted) == 1

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            officer_client.get("/events/")
        return len(captured)

    few = queries()
    for index in range(4, 30):
        SecurityEventFactory(index=index)
        RiskAcceptanceFactory(finding_id=f"CVE-2024-{1000 + index}")
    assert queries() == few


def test_risk_acceptance_list_shows_every_column_and_state(officer_client):
    now = timezone.now()
    RiskAcceptanceFactory(finding_id="CVE-2024-1111", accepted_by_name="alice", expires_at=None)
    RiskAcceptanceFactory(
        finding_id="CVE-2024-2222", cancelled_at=now, cancelled_by_name="bob", severity=Severity.MEDIUM
    )
    RiskAcceptanceFactory(finding_id="CVE-2024-3333", expires_at=now - timedelta(hours=1), extent=Extent.ALL)
    page = text(officer_client.get(LIST))
    for words in (
        "CVE-2024-1111",
        "Vulnerability",
        "Critical",
        "Every image of the repository",
        "registry.example.com/shop/web",
        "Not reachable in this service",
        "alice",
        "Unlimited",
        "Active",
        "Cancelled by bob on",
        "Expired",
        "3 risk acceptances",
    ):
        assert words in page, words
    assert "Risk acceptance" in officer_client.get(LIST).content.decode().split("<main")[0]  # in the navigation


def test_risk_acceptance_list_searches_filters_and_sorts(officer_client):
    RiskAcceptanceFactory(finding_id="CVE-2024-0001", reason="Behind the WAF")
    RiskAcceptanceFactory(finding_id="CVE-2024-0002", cancelled_at=timezone.now(), cancelled_by_name="x")
    RiskAcceptanceFactory(type=EventType.SENSITIVE_DATA, finding_id="aws-access-key-id")

    def findings(**params) -> list[str]:
        page = officer_client.get(LIST, params)
        assert page.status_code == 200
        return re.findall(r'<tr id="acceptance-\d+".*?<code>([^<]+)</code>', page.content.decode(), re.S)

    assert findings(search="waf") == ["CVE-2024-0001"]
    assert findings(state="cancelled") == ["CVE-2024-0002"]
    assert findings(type="sensitive_data") == ["aws-access-key-id"]
    assert findings(sort="finding") == ["CVE-2024-0001", "CVE-2024-0002", "aws-access-key-id"]
    assert findings(sort="-finding") == ["aws-access-key-id", "CVE-2024-0002", "CVE-2024-0001"]
    assert "No risk acceptance matches these filters" in text(officer_client.get(LIST, {"search": "nothing"}))


def test_officer_cancels_from_the_list_and_the_acceptance_stays_listed(officer_client):
    acceptance = RiskAcceptanceFactory()
    assert f'action="/policies/risk-acceptance/{acceptance.pk}/cancel/"' in officer_client.get(LIST).content.decode()
    answer = officer_client.post(f"{LIST}{acceptance.pk}/cancel/", follow=True)
    assert "cancelled: its findings notify again" in text(answer)
    acceptance.refresh_from_db()
    assert acceptance.cancelled_at is not None and acceptance.cancelled_by_name == "officer"
    assert "Cancelled by officer on" in text(officer_client.get(LIST))
    again = officer_client.post(f"{LIST}{acceptance.pk}/cancel/", follow=True)
    assert "It was cancelled by officer" in text(again)
    assert AuditEntry.objects.filter(action="cancel").count() == 1


def test_officer_extends_from_the_acceptance_page(officer_client):
    acceptance = RiskAcceptanceFactory()
    page = officer_client.get(f"{LIST}{acceptance.pk}/").content.decode()
    assert 'id="extend"' in page
    answer = officer_client.post(f"{LIST}{acceptance.pk}/extend/", {"period": "365"}, follow=True)
    acceptance.refresh_from_db()
    assert abs((acceptance.expires_at - (timezone.now() + timedelta(days=365))).total_seconds()) < 30
    assert "now lasts until" in text(answer)
    bad = officer_client.post(f"{LIST}{acceptance.pk}/extend/", {"period": "until"})
    assert bad.status_code == 400 and "Pick the date and time" in bad.content.decode()
    assert AuditEntry.objects.filter(action="extend").count() == 1


def test_auditor_sees_the_list_and_pages_read_only(auditor_client):
    acceptance = RiskAcceptanceFactory()
    listing = auditor_client.get(LIST)
    assert listing.status_code == 200 and "CVE-2024-1000" in listing.content.decode()
    assert "/cancel/" not in listing.content.decode()
    detail = auditor_client.get(f"{LIST}{acceptance.pk}/").content.decode()
    assert 'id="extend"' not in detail and "/cancel/" not in detail
    assert auditor_client.post(f"{LIST}{acceptance.pk}/cancel/").status_code == 403
    assert auditor_client.post(f"{LIST}{acceptance.pk}/extend/", {"period": "7"}).status_code == 403
    acceptance.refresh_from_db()
    assert acceptance.cancelled_at is None


def test_the_screens_need_a_login_and_the_view_right(client, plain_user):
    acceptance = RiskAcceptanceFactory()
    assert client.get(LIST)["Location"].startswith("/login/")
    client.force_login(plain_user)
    assert client.get(LIST).status_code == 403
    assert client.get(f"{LIST}{acceptance.pk}/").status_code == 403


def test_the_acceptance_links_to_the_events_it_covers(officer_client):
    acceptance = RiskAcceptanceFactory(finding_id="CVE-2024-1001")
    covered = SecurityEventFactory(index=1)
    SecurityEventFactory(index=1, repository="shop/other")
    SecurityEventFactory(index=2)
    page = officer_client.get(f"{LIST}{acceptance.pk}/").content.decode()
    link = re.search(r'href="(/events/\?[^"]+)">The events it covers', page).group(1).replace("&amp;", "&")
    listed = re.findall(r'<tr id="event-(\d+)">', officer_client.get(link).content.decode())
    assert listed == [str(covered.pk)]


def test_reason_and_finding_are_escaped(officer_client):
    acceptance = RiskAcceptanceFactory(finding_id="<b>x</b>", reason="<script>alert(1)</script>")
    for url in (LIST, f"{LIST}{acceptance.pk}/"):
        page = officer_client.get(url).content.decode()
        assert "<script>alert(1)" not in page and "&lt;script&gt;" in page and "<b>x</b>" not in page


def test_admin_accepts_extends_and_cancels_through_the_services(client):
    admin = UserFactory(username="root", superuser=True)
    client.force_login(admin)
    add = "/admin/events/riskacceptance/add/"
    refused = client.post(
        add, {"type": "runtime", "finding_id": "Terminal shell", "extent": "all", "reason": "lab cluster"}
    )
    assert refused.status_code == 200 and "findings cannot" in refused.content.decode()
    assert not RiskAcceptance.objects.exists()
    answer = client.post(
        add,
        {
            "type": "vulnerability",
            "finding_id": "CVE-2024-7777",
            "extent": "repository",
            "registry": "registry.example.com",
            "repository": "shop/web",
            "digest": "",
            "tag": "",
            "reason": "Fixed upstream next week",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    acceptance = RiskAcceptance.objects.get()
    assert acceptance.expires_at is None and acceptance.accepted_by_name == "root"
    later = timezone.localtime(timezone.now() + timedelta(days=10))
    change = f"/admin/events/riskacceptance/{acceptance.pk}/change/"
    answer = client.post(change, {"expires_at_0": f"{later:%Y-%m-%d}", "expires_at_1": f"{later:%H:%M:%S}"})
    assert answer.status_code == 302
    acceptance.refresh_from_db()
    assert acceptance.expires_at is not None
    client.post(
        "/admin/events/riskacceptance/",
        {"action": "cancel_acceptances", "_selected_action": [acceptance.pk]},
    )
    acceptance.refresh_from_db()
    assert acceptance.cancelled_by_name == "root"
    assert list(AuditEntry.objects.order_by("id").values_list("action", "source")) == [
        ("accept", "admin"),
        ("extend", "admin"),
        ("cancel", "admin"),
    ]
    assert client.get(f"/admin/events/riskacceptance/{acceptance.pk}/delete/").status_code == 403
