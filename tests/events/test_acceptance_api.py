"""``/api/v1/risk-acceptances/``: accept (and accept again), cancel, extend or shorten, read with filters; every
refusal is a 400 naming its field and rule with nothing stored; rights; security event log entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from events.models import EventType, RiskAcceptance, Severity
from kcs.models import AuditEntry
from tests.factories import RiskAcceptanceFactory, SecurityEventFactory, UserFactory, global_scope, token_client

pytestmark = pytest.mark.django_db

URL = "/api/v1/risk-acceptances/"
DIGEST = "sha256:" + "ab" * 32


def cve(**fields) -> dict:
    return {
        "type": "vulnerability",
        "finding_id": "CVE-2023-0286",
        "extent": "repository",
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "reason": "Not reachable: the service never parses X.400 addresses.",
    } | fields


def accept(api, **fields):
    return api.post(URL, cve(**fields), format="json")


def close_to(value: str, expected, seconds: int = 30) -> bool:
    return abs((parse_datetime(value) - expected).total_seconds()) < seconds


def test_officer_accepts_a_cve_for_its_repository_for_thirty_days_by_default(officer_api):
    answer = accept(officer_api)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert {key: body[key] for key in ("type", "finding_id", "extent", "registry", "repository", "digest", "tag")} == {
        "type": "vulnerability",
        "finding_id": "CVE-2023-0286",
        "extent": "repository",
        "registry": "registry.example.com",
        "repository": "shop/payments",
        "digest": "",
        "tag": "",
    }
    assert body["state"] == "active" and body["accepted_by"] == "officer"
    assert body["cancelled_by"] is None and body["cancelled_at"] is None
    assert close_to(body["expires_at"], timezone.now() + timedelta(days=30))
    assert officer_api.get(f"{URL}{body['id']}/").json() == body


def test_the_worst_stored_severity_of_the_finding_is_kept(officer_api):
    SecurityEventFactory(finding_id="CVE-2023-0286", severity=Severity.MEDIUM)
    SecurityEventFactory(finding_id="CVE-2023-0286", severity=Severity.HIGH, repository="shop/other")
    assert accept(officer_api).json()["severity"] == "high"


def test_period_days_expires_at_and_unlimited_each_set_the_end(officer_api):
    assert close_to(accept(officer_api, period_days=7).json()["expires_at"], timezone.now() + timedelta(days=7))
    until = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    answer = accept(officer_api, repository="shop/api", expires_at=until.isoformat())
    assert parse_datetime(answer.json()["expires_at"]) == until
    assert accept(officer_api, repository="shop/cart", unlimited=True).json()["expires_at"] is None


def test_image_extent_keeps_the_digest_and_drops_the_tag_which_the_digest_already_names(officer_api):
    answer = accept(officer_api, extent="image", digest=DIGEST, tag="2.3.1")
    assert (answer.json()["digest"], answer.json()["tag"]) == (DIGEST, "")
    by_tag = accept(officer_api, extent="image", tag="2.3.1").json()
    assert (by_tag["digest"], by_tag["tag"]) == ("", "2.3.1")


def test_malware_of_low_severity_can_be_accepted(officer_api):
    SecurityEventFactory(type=EventType.MALWARE, finding_id="EICAR-Test-File", severity=Severity.LOW)
    answer = accept(officer_api, type="malware", finding_id="EICAR-Test-File")
    assert answer.status_code == 201, answer.content


REFUSALS = [
    ({"type": "runtime"}, "type", "Only vulnerability, malware, sensitive data and misconfiguration findings"),
    ({"type": "non_compliant"}, "type", "“non-compliant” findings cannot"),
    ({"type": "risk_acceptance_expired"}, "type", "can be accepted"),
    ({"type": "bogus"}, "type", "use one of vulnerability"),
    ({"type": None}, "type", "required"),
    ({"reason": None}, "reason", "A reason is required"),
    ({"reason": "   "}, "reason", "A reason is required"),
    ({"finding_id": ""}, "finding_id", "required"),
    ({"extent": "cluster"}, "extent", "is not an extent"),
    ({"extent": None}, "extent", "required"),
    ({"repository": ""}, "repository", "names a repository"),
    ({"extent": "image"}, "digest", "give its digest, or its tag"),
    ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at", "Must be in the future"),
    ({"expires_at": "next tuesday"}, "expires_at", "ISO 8601"),
    ({"period_days": 30, "unlimited": True}, "unlimited", "not several"),
    ({"period_days": 30, "unlimited": True}, "period_days", "not several"),
    ({"period_days": 0}, "period_days", "from 1 to 3650"),
    ({"period_days": "soon"}, "period_days", "whole number"),
    ({"period_days": "²"}, "period_days", "whole number"),
    ({"period_days": "9" * 5000}, "period_days", "whole number"),
    ({"period_days": 2.5}, "period_days", "whole number"),
    ({"reason": ["why"]}, "reason", "Must be a string"),
    ({"unlimited": "forever"}, "unlimited", "true or false"),
    ({"registry": 5}, "registry", "Must be a string"),
    ({"reason": "x" * 2001}, "reason", "no more than 2000"),
    ({"reason": "nul\x00byte"}, "reason", "NUL"),
]


@pytest.mark.parametrize(("fields", "field", "words"), REFUSALS)
def test_each_refusal_names_its_field_and_rule_and_stores_nothing(officer_api, fields, field, words):
    answer = accept(officer_api, **fields)
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert field in errors and words in " ".join(errors[field]), errors
    assert answer.json()["detail"]
    assert not RiskAcceptance.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("severity", [Severity.HIGH, Severity.CRITICAL])
def test_high_or_critical_malware_can_never_be_accepted(officer_api, severity):
    SecurityEventFactory(type=EventType.MALWARE, finding_id="Trojan.Miner", severity=severity)
    answer = accept(officer_api, type="malware", finding_id="Trojan.Miner", extent="all")
    assert answer.status_code == 400
    assert "Malware of High or Critical severity can never be accepted" in answer.json()["errors"]["type"][0]
    assert not RiskAcceptance.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(officer_api):
    answer = officer_api.post(URL, [cve()], format="json")
    assert answer.status_code == 400 and "non_field_errors" in answer.json()["errors"]
    assert not RiskAcceptance.objects.exists()


def test_accepting_the_same_finding_and_extent_again_updates_the_acceptance(officer_api):
    first = accept(officer_api, period_days=7).json()
    again = accept(officer_api, reason="Fix ships in release 2.4", period_days=60)
    assert again.status_code == 200
    body = again.json()
    assert body["id"] == first["id"] and body["reason"] == "Fix ships in release 2.4"
    assert close_to(body["expires_at"], timezone.now() + timedelta(days=60))
    assert RiskAcceptance.objects.count() == 1
    assert accept(officer_api, extent="all").status_code == 201  # another extent is another acceptance
    assert RiskAcceptance.objects.count() == 2


def test_cancelled_acceptances_stay_listed_with_who_cancelled_and_when(officer_api):
    acceptance = accept(officer_api).json()
    answer = officer_api.post(f"{URL}{acceptance['id']}/cancel/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["state"] == "cancelled" and body["cancelled_by"] == "officer"
    assert close_to(body["cancelled_at"], timezone.now())
    listed = officer_api.get(URL, {"state": "cancelled"}).json()["results"]
    assert [a["id"] for a in listed] == [acceptance["id"]]
    again = officer_api.post(f"{URL}{acceptance['id']}/cancel/")
    assert again.status_code == 400 and "cancelled by officer" in again.json()["errors"]["state"][0]
    # Accepting it again makes a new acceptance; the cancelled one keeps its history.
    renewed = accept(officer_api)
    assert renewed.status_code == 201 and renewed.json()["id"] != acceptance["id"]


def test_extend_and_shorten_set_a_new_end_from_now(officer_api):
    acceptance = accept(officer_api, period_days=7).json()
    url = f"{URL}{acceptance['id']}/extend/"
    longer = officer_api.post(url, {"period_days": 90}, format="json")
    assert longer.status_code == 200
    assert close_to(longer.json()["expires_at"], timezone.now() + timedelta(days=90))
    until = (timezone.now() + timedelta(hours=5)).replace(microsecond=0)
    shorter = officer_api.post(url, {"expires_at": until.isoformat()}, format="json").json()
    assert parse_datetime(shorter["expires_at"]) == until
    assert officer_api.post(url, {"unlimited": True}, format="json").json()["expires_at"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "period_days"), ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"), ({"period_days": -3}, "period_days")],
)
def test_extend_refuses_a_missing_or_past_end_naming_the_field(officer_api, body, field):
    acceptance = accept(officer_api).json()
    answer = officer_api.post(f"{URL}{acceptance['id']}/extend/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()["errors"]
    assert officer_api.get(f"{URL}{acceptance['id']}/").json()["expires_at"] == acceptance["expires_at"]


def test_cancelled_or_expired_acceptances_cannot_be_extended(officer_api):
    cancelled = RiskAcceptanceFactory(cancelled_at=timezone.now(), cancelled_by_name="someone")
    expired = RiskAcceptanceFactory(finding_id="CVE-1", expires_at=timezone.now() - timedelta(minutes=1))
    for acceptance, words in ((cancelled, "cancelled by someone"), (expired, "expired on")):
        answer = officer_api.post(f"{URL}{acceptance.pk}/extend/", {"period_days": 30}, format="json")
        assert answer.status_code == 400 and words in answer.json()["errors"]["state"][0]


def test_list_filters_by_state_type_finding_and_repository(officer_api):
    now = timezone.now()
    active = RiskAcceptanceFactory(finding_id="CVE-A", repository="team-1/api")
    expired = RiskAcceptanceFactory(finding_id="CVE-B", repository="team-2/api", expires_at=now - timedelta(days=1))
    cancelled = RiskAcceptanceFactory(finding_id="CVE-C", cancelled_at=now, cancelled_by_name="officer")
    secret = RiskAcceptanceFactory(type=EventType.SENSITIVE_DATA, finding_id="aws-access-key-id", expires_at=None)

    def ids(**params):
        answer = officer_api.get(URL, params)
        assert answer.status_code == 200, answer.content
        return {row["id"] for row in answer.json()["results"]}

    assert ids(state="active") == {active.pk, secret.pk}
    assert ids(state="expired") == {expired.pk}
    assert ids(state="cancelled") == {cancelled.pk}
    assert ids(type="sensitive_data") == {secret.pk}
    assert ids(finding_id="CVE-B") == {expired.pk}
    assert ids(repository="team-*/api") == {active.pk, expired.pk}
    assert officer_api.get(URL, {"state": "sleeping"}).status_code == 400
    states = {row["id"]: row["state"] for row in officer_api.get(URL).json()["results"]}
    assert states == {active.pk: "active", expired.pk: "expired", cancelled.pk: "cancelled", secret.pk: "active"}


def test_auditor_reads_but_every_write_is_forbidden(auditor_api):
    acceptance = RiskAcceptanceFactory()
    assert auditor_api.get(URL).status_code == 200
    assert auditor_api.get(f"{URL}{acceptance.pk}/").status_code == 200
    assert accept(auditor_api).status_code == 403
    assert auditor_api.post(f"{URL}{acceptance.pk}/cancel/").status_code == 403
    assert auditor_api.post(f"{URL}{acceptance.pk}/extend/", {"period_days": 5}, format="json").status_code == 403
    acceptance.refresh_from_db()
    assert acceptance.cancelled_at is None and RiskAcceptance.objects.count() == 1


def test_without_a_right_nothing_is_readable_or_writable(plain_api):
    acceptance = RiskAcceptanceFactory()
    assert plain_api.get(URL).status_code == 403
    assert plain_api.get(f"{URL}{acceptance.pk}/").status_code == 403
    assert accept(plain_api).status_code == 403
    assert plain_api.post(f"{URL}{acceptance.pk}/cancel/").status_code == 403
    assert APIClient().get(URL).status_code == 401


def test_manage_right_alone_is_enough_to_accept():
    api = token_client(UserFactory(rights=["events.manage_riskacceptance"], scopes=[global_scope()]))
    assert accept(api).status_code == 201


def test_accept_extend_and_cancel_each_write_a_security_event_log_entry(officer_api):
    acceptance = accept(officer_api).json()
    officer_api.post(f"{URL}{acceptance['id']}/extend/", {"period_days": 90}, format="json")
    officer_api.post(f"{URL}{acceptance['id']}/cancel/")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [e.action for e in entries] == ["accept", "extend", "cancel"]
    assert {(e.actor_name, e.source, e.object_type, e.object_id) for e in entries} == {
        ("officer", "api", "risk acceptance", str(acceptance["id"]))
    }
    assert entries[0].changes["reason"] == [None, cve()["reason"]]
    assert entries[1].changes["expires_at"][0] == acceptance["expires_at"].replace("Z", "+00:00")
    assert entries[2].changes == {"state": ["active", "cancelled"]}


def test_unknown_acceptance_is_a_404(officer_api):
    assert officer_api.get(f"{URL}987654/").status_code == 404
    assert officer_api.post(f"{URL}987654/cancel/").status_code == 404


def test_the_schema_describes_the_endpoints(officer_api):
    schema = officer_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths[URL])
    assert "post" in paths[URL + "{id}/cancel/"] and "post" in paths[URL + "{id}/extend/"]
