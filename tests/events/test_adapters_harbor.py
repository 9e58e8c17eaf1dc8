"""Harbor webhooks (default and CloudEvents) and Harbor vulnerability reports → events."""

import pytest

from events.adapters import ADAPTERS, AdapterError
from tests.fixtures import fixture_bytes, fixture_json

harbor = ADAPTERS["harbor"]


def test_scanning_completed_gives_one_event_per_severity_with_findings():
    parsed = harbor.load(fixture_bytes("harbor/scanning_completed.json"))
    assert [(e["severity"], e["title"]) for e in parsed.items] == [
        ("critical", "2 Critical vulnerabilities in harbor.example.com/shop/payments:2.3.1"),
        ("high", "3 High vulnerabilities in harbor.example.com/shop/payments:2.3.1"),
        ("medium", "4 Medium vulnerabilities in harbor.example.com/shop/payments:2.3.1"),
    ]  # Low: 0 makes no event
    critical = parsed.items[0]
    assert (critical["type"], critical["finding_id"]) == ("vulnerability", "Critical vulnerabilities")
    assert (critical["registry"], critical["repository"], critical["tag"]) == (
        "harbor.example.com",
        "shop/payments",
        "2.3.1",
    )
    assert critical["digest"] == "sha256:" + "3" * 64
    details = critical["details"]
    assert details["counts"] == {"Critical": 2, "High": 3, "Medium": 4, "Low": 0}
    assert (details["count"], details["total"], details["fixable"]) == (2, 9, 7)
    assert details["scanner"] == "Trivy v0.56.2"
    assert details["report_url"] == (
        "https://harbor.example.com/api/v2.0/projects/shop/repositories/payments/artifacts/sha256:"
        + "3" * 64
        + "/additions/vulnerabilities"
    )
    assert critical["occurred_at"] == "2026-11-20T10:40:00Z"
    assert parsed.ignored == []


def test_cloudevents_format_and_nested_repository_names():
    (event,) = harbor.load(fixture_bytes("harbor/scanning_completed_cloudevents.json")).items
    assert (event["registry"], event["repository"], event["tag"]) == (
        "harbor.example.com",
        "platform/tools/kubectl",
        "",
    )
    assert event["title"] == "1 High vulnerability in harbor.example.com/platform/tools/kubectl@sha256:444444444444"
    assert "/repositories/tools%252Fkubectl/" in event["details"]["report_url"]
    assert event["details"]["operator"] == "robot$ci"


def test_redelivered_webhook_has_the_same_uids():
    first = [e["uid"] for e in harbor.load(fixture_bytes("harbor/scanning_completed.json")).items]
    assert first == [e["uid"] for e in harbor.load(fixture_bytes("harbor/scanning_completed.json")).items]


@pytest.mark.parametrize(
    ("name", "note"),
    [
        ("harbor/scanning_failed.json", "SCANNING_FAILED for harbor.example.com/shop/web:latest: not a finding"),
        ("harbor/push_artifact.json", "PUSH_ARTIFACT for harbor.example.com/shop/payments:2.3.1: not a finding"),
    ],
)
def test_other_webhook_types_are_acknowledged_not_stored(name, note):
    parsed = harbor.load(fixture_bytes(name))
    assert parsed.items == []
    assert parsed.ignored[0].startswith(note)


def test_clean_scan_gives_nothing():
    payload = fixture_json("harbor/scanning_completed.json")
    overview = payload["event_data"]["resources"][0]["scan_overview"][
        "application/vnd.security.vulnerability.report; version=1.1"
    ]
    overview.update(severity="None", summary={"total": 0, "fixable": 0, "summary": {}})
    assert harbor.parse(payload, {}).items == []


def test_vulnerability_report_gives_one_event_per_cve_with_registry_from_the_sender():
    events = harbor.load(fixture_bytes("harbor/vulnerability_report.json"), {"registry": "harbor.example.com"}).items
    assert [(e["finding_id"], e["severity"], e["cvss"]) for e in events] == [
        ("CVE-2024-45491", "critical", 9.8),
        ("CVE-2024-0727", "medium", 5.5),  # no preferred CVSS: NVD's from the vendor attributes
    ]
    assert (events[0]["registry"], events[0]["repository"], events[0]["tag"]) == (
        "harbor.example.com",
        "shop/payments",
        "2.3.1",
    )
    assert (events[0]["package"], events[0]["fixed_version"]) == ("expat", "2.6.3-r0")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda p: p["event_data"].update(resources="all"), "event_data.resources"),
        (lambda p: p.update(type=None), "type"),
        (lambda p: p.update(occur_at="yesterday"), "occur_at"),
        (
            lambda p: p["event_data"]["resources"][0]["scan_overview"][
                "application/vnd.security.vulnerability.report; version=1.1"
            ]["summary"]["summary"].update(High="3"),
            "event_data.resources[0].scan_overview.summary.summary",
        ),
    ],
)
def test_broken_webhooks_are_refused_with_their_place(mutate, path):
    payload = fixture_json("harbor/scanning_completed.json")
    mutate(payload)
    with pytest.raises(AdapterError) as caught:
        harbor.parse(payload, {})
    assert caught.value.path == path


def test_a_falco_alert_sent_to_harbor_is_refused():
    with pytest.raises(AdapterError, match="looks like Falco output"):
        harbor.load(fixture_bytes("falco/shell_in_container.json"))
