"""``/api/v1/vulnerabilities/`` and ``/api/v1/images/``: shapes, filters, search, pagination, rights, bad input,
and whether a finding's risk is accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import EventType, Extent, Finding, RiskAcceptance
from tests.factories import RiskAcceptanceFactory, UserFactory, finding, ingest_at, token_client

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def scans(db):
    """web: CVE-1 critical (openssl, fix 3.0.8) + CVE-2 high (zlib, no fix), in prod-eu-1 and staging;
    api: CVE-1 (first scan also had CVE-3) + KSV001 misconfiguration; cache: CVE-4 low only."""
    ingest_at(
        T0,
        [
            finding(
                repository="web",
                finding_id="CVE-1",
                severity="critical",
                cvss=9.8,
                fixed_version="3.0.8",
                package="openssl",
            ),
            finding(repository="web", finding_id="CVE-2", severity="high", package="zlib", fixed_version="", cvss=7.5),
        ],
    )
    for cluster in ("prod-eu-1", "staging"):
        ingest_at(
            T0 + timedelta(minutes=1),
            [finding(repository="web", type="runtime", finding_id="Shell", cluster=cluster, uid=f"rt-{cluster}")],
            source="falco",
        )
    ingest_at(T0 - timedelta(days=2), [finding(repository="api", finding_id="CVE-3", severity="medium", uid="a0")])
    ingest_at(
        T0 + timedelta(hours=1),
        [
            finding(
                repository="api",
                finding_id="CVE-1",
                severity="critical",
                cvss=9.8,
                fixed_version="3.0.9",
                package="libssl3",
                uid="a1",
                cluster="prod-eu-1",
                namespace="shop",
                details={"workload": "Deployment/api"},
            ),
            finding(
                repository="api",
                type="misconfiguration",
                finding_id="KSV001",
                severity="medium",
                package="",
                fixed_version="",
                cvss=None,
                uid="a2",
            ),
        ],
    )
    ingest_at(
        T0, [finding(repository="cache", finding_id="CVE-4", severity="low", uid="c1", cvss=5.0, fixed_version="")]
    )


def by_id(rows: list[dict]) -> dict[str, dict]:
    return {row["finding_id"]: row for row in rows}


def test_vulnerabilities_list_one_row_per_open_finding_id(admin_api, scans):
    answer = admin_api.get("/api/v1/vulnerabilities/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 4  # CVE-3 is no longer open: api's latest scan does not report it
    rows = by_id(body["results"])
    assert [row["finding_id"] for row in body["results"]] == ["CVE-1", "CVE-2", "KSV001", "CVE-4"]
    assert rows["CVE-1"] == {
        "id": rows["CVE-1"]["id"],
        "finding_id": "CVE-1",
        "type": "vulnerability",
        "severity": "critical",
        "cvss": 9.8,
        "packages": ["libssl3", "openssl"],
        "fixed_versions": ["3.0.8", "3.0.9"],
        "images": 2,
        "workloads": 1,
        "first_seen": "2026-11-30T10:00:00Z",
        "last_seen": "2026-11-30T11:00:00Z",
        "accepted": False,
    }
    assert rows["CVE-2"]["fixed_versions"] == [] and rows["CVE-2"]["images"] == 1
    assert rows["KSV001"]["cvss"] is None and rows["KSV001"]["packages"] == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=cve-1", ["CVE-1"]),
        ("search=zlib", ["CVE-2"]),
        ("type=misconfiguration", ["KSV001"]),
        ("severity=high", ["CVE-2"]),
        ("min_severity=high", ["CVE-1", "CVE-2"]),
        ("fix=none", ["CVE-2", "KSV001", "CVE-4"]),
        ("fix=available", ["CVE-1"]),
        ("repository=api", ["CVE-1", "KSV001"]),
        ("repository=c*", ["CVE-4"]),
        ("registry=registry.example.com&repository=web", ["CVE-1", "CVE-2"]),
        ("cluster=staging", ["CVE-1", "CVE-2"]),
        ("ordering=finding_id", ["CVE-1", "CVE-2", "CVE-4", "KSV001"]),
        ("ordering=-images", ["CVE-1", "CVE-2", "CVE-4", "KSV001"]),
        ("ordering=cvss", ["KSV001", "CVE-4", "CVE-2", "CVE-1"]),
        ("ordering=-first_seen", ["KSV001", "CVE-1", "CVE-2", "CVE-4"]),
    ],
)
def test_vulnerabilities_filters_search_and_sorting(admin_api, scans, query, expected):
    answer = admin_api.get(f"/api/v1/vulnerabilities/?{query}")
    assert answer.status_code == 200, answer.json()
    assert [row["finding_id"] for row in answer.json()["results"]] == expected


def test_a_filter_narrows_the_counts_to_the_images_it_selects(admin_api, scans):
    row = admin_api.get("/api/v1/vulnerabilities/?repository=web").json()["results"][0]
    assert (row["finding_id"], row["images"], row["packages"]) == ("CVE-1", 1, ["openssl"])


def test_images_list_rates_each_image_by_its_open_findings(admin_api, scans):
    body = admin_api.get("/api/v1/images/").json()
    assert body["count"] == 3
    images = {row["repository"]: row for row in body["results"]}
    assert [row["repository"] for row in body["results"]] == ["web", "api", "cache"]
    assert images["web"] == {
        "id": images["web"]["id"],
        "image": "registry.example.com/web:1.0",
        "registry": "registry.example.com",
        "repository": "web",
        "tag": "1.0",
        "digest": "",
        "rating": "critical",
        "counts": {"critical": 1, "high": 1, "medium": 0, "low": 0, "negligible": 0, "unknown": 0},
        "last_scanned": "2026-11-30T10:00:00Z",
        "clusters": ["prod-eu-1", "staging"],
    }
    assert images["api"]["counts"]["medium"] == 1 and images["api"]["counts"]["critical"] == 1
    assert images["cache"]["rating"] == "low"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("search=WEB", ["web"]),
        ("search=example.com", ["web", "api", "cache"]),
        ("rating=low", ["cache"]),
        ("rating=ok", []),
        ("min_rating=high", ["web", "api"]),
        ("cluster=staging", ["web"]),
        ("cluster=prod-eu-1", ["web", "api"]),
        ("finding_id=CVE-1", ["web", "api"]),
        ("finding_id=CVE-3", []),
        ("repository=*a*", ["api", "cache"]),
        ("ordering=image", ["api", "cache", "web"]),
        ("ordering=-last_scanned", ["api", "web", "cache"]),
        ("ordering=high", ["api", "cache", "web"]),
    ],
)
def test_images_filters_search_and_sorting(admin_api, scans, query, expected):
    answer = admin_api.get(f"/api/v1/images/?{query}")
    assert answer.status_code == 200, answer.json()
    assert [row["repository"] for row in answer.json()["results"]] == expected


def test_a_newer_report_replaces_the_rating(admin_api, scans):
    # A report about cache with another finding only: CVE-4 is fixed, the rating is the new finding's.
    ingest_at(
        T0 + timedelta(days=1),
        [finding(repository="cache", type="sensitive_data", finding_id="aws-key", severity="unknown", uid="s")],
    )
    row = admin_api.get("/api/v1/images/?repository=cache").json()["results"][0]
    assert row["rating"] == "unknown" and row["counts"]["low"] == 0


def test_one_vulnerability_and_one_image_by_id(admin_api, scans):
    listed = admin_api.get("/api/v1/vulnerabilities/?search=CVE-1").json()["results"][0]
    assert admin_api.get(f"/api/v1/vulnerabilities/{listed['id']}/").json() == listed
    image = admin_api.get("/api/v1/images/?repository=web").json()["results"][0]
    assert admin_api.get(f"/api/v1/images/{image['id']}/").json() == image
    assert admin_api.get("/api/v1/images/999999/").status_code == 404
    fixed = Finding.objects.get(finding_id="CVE-3")  # open nowhere any more
    assert admin_api.get(f"/api/v1/vulnerabilities/{fixed.pk}/").status_code == 404


@pytest.mark.parametrize("endpoint", ["vulnerabilities", "images"])
def test_lists_are_paginated(admin_api, endpoint):
    ingest_at(T0, [finding(repository=f"r{n}", finding_id=f"CVE-{n}", uid=f"u{n}") for n in range(7)])
    first = admin_api.get(f"/api/v1/{endpoint}/?page_size=3").json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["next"]
    last = admin_api.get(f"/api/v1/{endpoint}/?page_size=3&page=3").json()
    assert len(last["results"]) == 1 and last["next"] is None
    assert admin_api.get(f"/api/v1/{endpoint}/?page=9").status_code == 404


@pytest.mark.parametrize(
    ("endpoint", "query", "field"),
    [
        ("vulnerabilities", "severity=urgent", "severity"),
        ("vulnerabilities", "min_severity=5", "min_severity"),
        ("vulnerabilities", "type=runtime", "type"),
        ("vulnerabilities", "fix=maybe", "fix"),
        ("vulnerabilities", "ordering=title", "ordering"),
        ("vulnerabilities", "search=" + "x" * 300, "search"),
        ("images", "rating=bad", "rating"),
        ("images", "min_rating=ok", "min_rating"),
        ("images", "ordering=-size", "ordering"),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_parameter(admin_api, scans, endpoint, query, field):
    answer = admin_api.get(f"/api/v1/{endpoint}/?{query}")
    assert answer.status_code == 400
    assert list(answer.json()["errors"]) == [field]


@pytest.mark.parametrize("endpoint", ["vulnerabilities", "images"])
def test_reading_needs_the_right_to_view_events(client, plain_api, endpoint):
    assert client.get(f"/api/v1/{endpoint}/").status_code == 401
    assert plain_api.get(f"/api/v1/{endpoint}/").status_code == 403
    for group in ("IS auditor", "IS officer", "Developer"):
        api = token_client(UserFactory(username=f"u-{group}", groups=[group]))
        assert api.get(f"/api/v1/{endpoint}/").status_code == 200
    # The Scanner role only posts events.
    assert token_client(UserFactory(groups=["Scanner"])).get(f"/api/v1/{endpoint}/").status_code == 403
    assert plain_api.post(f"/api/v1/{endpoint}/", {}).status_code in (403, 405)


def test_both_lists_are_in_the_openapi_schema(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    for path in ("/api/v1/vulnerabilities/", "/api/v1/images/"):
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"search", "ordering", "page", "page_size"} <= names


# --- accepted: an active risk acceptance exists for the row's type and finding ID ---------------------------------


def accepted_by_id(api, query: str = "") -> dict[str, bool]:
    return {
        row["finding_id"]: row["accepted"] for row in api.get(f"/api/v1/vulnerabilities/?{query}").json()["results"]
    }


def test_a_finding_is_accepted_while_an_active_acceptance_of_its_type_and_id_exists(admin_api, scans):
    RiskAcceptanceFactory(finding_id="CVE-1", extent=Extent.ALL, registry="", repository="")
    # The same ID under another type accepts nothing here.
    RiskAcceptanceFactory(finding_id="CVE-2", type=EventType.MISCONFIGURATION)
    assert accepted_by_id(admin_api) == {
        "CVE-1": True,
        "CVE-2": False,
        "CVE-4": False,
        "KSV001": False,
    }
    one = Finding.objects.get(finding_id="CVE-1")
    assert admin_api.get(f"/api/v1/vulnerabilities/{one.pk}/").json()["accepted"] is True


def test_a_cancelled_acceptance_no_longer_accepts(admin_api, scans):
    acceptance = RiskAcceptanceFactory(finding_id="CVE-1")
    assert accepted_by_id(admin_api)["CVE-1"] is True
    assert admin_api.post(f"/api/v1/risk-acceptances/{acceptance.pk}/cancel/").status_code == 200
    assert accepted_by_id(admin_api)["CVE-1"] is False


def test_an_expired_acceptance_no_longer_accepts_even_before_its_expiry_is_recorded(admin_api, scans):
    acceptance = RiskAcceptanceFactory(finding_id="CVE-4", extent=Extent.IMAGE, repository="cache", tag="1.0")
    assert accepted_by_id(admin_api)["CVE-4"] is True
    RiskAcceptance.objects.filter(pk=acceptance.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert accepted_by_id(admin_api)["CVE-4"] is False


def test_the_accepted_filter_keeps_accepted_or_unaccepted_findings(admin_api, scans):
    RiskAcceptanceFactory(finding_id="CVE-1")
    RiskAcceptanceFactory(finding_id="CVE-2", cancelled_at=timezone.now())
    RiskAcceptanceFactory(finding_id="KSV001", type=EventType.MISCONFIGURATION, expires_at=None)
    assert accepted_by_id(admin_api, "accepted=true") == {"CVE-1": True, "KSV001": True}
    assert accepted_by_id(admin_api, "accepted=false") == {"CVE-2": False, "CVE-4": False}
    # With an image filter too (the grouped query).
    assert accepted_by_id(admin_api, "accepted=true&repository=api") == {"CVE-1": True, "KSV001": True}
    answer = admin_api.get("/api/v1/vulnerabilities/?accepted=yes")
    assert answer.status_code == 400 and list(answer.json()["errors"]) == ["accepted"]


def test_acceptances_are_read_in_one_query_whatever_the_number_of_rows(admin_api, scans):
    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_api.get("/api/v1/vulnerabilities/").status_code == 200
        return len(captured)

    RiskAcceptanceFactory(finding_id="CVE-1")
    queries_for_the_list()  # the first request also records the token's use
    few = queries_for_the_list()
    # the caller's scopes (2), count, page, packages, acceptances (the token is cached after its first use)
    assert few == 6
    for finding_id in ("CVE-2", "CVE-4"):
        RiskAcceptanceFactory(finding_id=finding_id)
        RiskAcceptanceFactory(finding_id=finding_id, extent=Extent.ALL, registry="", repository="")
    RiskAcceptanceFactory(finding_id="KSV001", type=EventType.MISCONFIGURATION)
    assert queries_for_the_list() == few
    assert set(accepted_by_id(admin_api).values()) == {True}
