"""The Overview (home page): every number it shows equals the list its link opens; who sees which part."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications.models import NotificationStatus
from notifications.overview import reported_statuses
from tests.factories import NotificationFactory, UserFactory, finding, ingest_at, make_integration, make_policy
from tests.overview_pages import figures_of, rows_behind

pytestmark = pytest.mark.django_db


# What one row of each list links to: counting these counts the rows.
@pytest.fixture
def activity(db):
    """Events, images and notifications spread over the last 30 days."""
    now = timezone.now()
    hook, mail = make_integration("webhook", "SIEM hook"), make_integration("email", "SOC mail")
    prod, staging = make_policy("Prod criticals", [hook]), make_policy("Staging malware", [mail])
    scans = [
        (timedelta(minutes=5), "web", [("CVE-1", "critical"), ("CVE-2", "high"), ("CVE-3", "low")]),
        (timedelta(hours=5), "api", [("CVE-1", "critical"), ("CVE-4", "high"), ("CVE-5", "medium")]),
        (timedelta(days=3), "db", [("CVE-1", "critical"), ("CVE-2", "high"), ("CVE-6", "unknown")]),
        (timedelta(days=12), "cache", [("CVE-7", "high"), ("KSV001", "negligible")]),
        (timedelta(days=40), "old", [("CVE-8", "critical")]),
    ]
    for age, repository, found in scans:
        ingest_at(
            now - age,
            [
                finding(repository=repository, finding_id=fid, severity=sev, uid=f"{repository}-{fid}")
                for fid, sev in found
            ],
        )
    # api again: its earlier scan's findings are no longer open
    ingest_at(now - timedelta(hours=1), [finding(repository="api", finding_id="CVE-4", severity="high", uid="api-2")])
    ingest_at(
        now - timedelta(hours=2),
        [finding(type="runtime", finding_id="Shell in container", severity="critical", repository="web", uid="rt")],
        source="falco",
    )
    notifications = [
        (prod, hook, NotificationStatus.SENT, timedelta(minutes=10)),
        (prod, hook, NotificationStatus.SENT, timedelta(hours=4)),
        (prod, hook, NotificationStatus.FAILED, timedelta(hours=6)),
        (prod, hook, NotificationStatus.SUPPRESSED, timedelta(days=2)),
        (staging, mail, NotificationStatus.FAILED, timedelta(hours=20)),
        (staging, mail, NotificationStatus.PENDING, timedelta(minutes=1)),
        (staging, mail, NotificationStatus.SENT, timedelta(days=20)),
        (prod, hook, NotificationStatus.FAILED, timedelta(days=5)),
    ]
    for policy, integration, status, age in notifications:
        NotificationFactory(
            policy=policy,
            policy_name=policy.name,
            integration=integration,
            status=status,
            created_at=now - age,
            events=[],  # the factory's own events would bypass ingest
        )


@pytest.mark.parametrize("period", ["24h", "7d", "30d"])
def test_every_number_on_the_overview_equals_the_list_it_links_to(admin_client, activity, period):
    answer = admin_client.get(f"/overview/?period={period}")
    assert answer.status_code == 200
    figures = figures_of(answer.content.decode())
    assert len(figures) > 20
    checked = {}
    for number, href, text in figures:
        if href not in checked:
            checked[href] = rows_behind(admin_client, href)
        assert checked[href] == number, f"{text!r} links to {href}, which lists {checked[href]}"
    # Every kind of list is behind some figure.
    targets = {href.split("?")[0].rstrip("0123456789/") or "/" for _, href, _ in figures}
    assert {"/events", "/notifications", "/images"} <= targets


def test_overview_shows_each_figure_of_the_period(admin_client, activity):
    page = admin_client.get("/overview/?period=24h").content.decode()
    # 24 h: web (3) + runtime (1) + api (3 + 1) = 8 events; sent 2, failed 2, suppressed 0 (pending not charted).
    assert "<strong>8</strong> events" in page
    assert "<strong>4</strong> notifications" in page
    assert [(s.value) for s in reported_statuses()] == ["sent", "failed", "suppressed", "muted"]
    for status in reported_statuses():
        assert f"fill-status-{status.value}" in page
    assert "Pending" not in page
    week = admin_client.get("/overview/?period=7d").content.decode()
    assert "<strong>11</strong> events" in week and "<strong>6</strong> notifications" in week
    month = admin_client.get("/overview/?period=30d").content.decode()
    assert "<strong>13</strong> events" in month  # the 40-day-old scan is outside


def test_top_lists_rank_images_findings_outputs_and_policies(admin_client, activity):
    page = admin_client.get("/overview/?period=7d").content.decode()
    section = page[page.index('id="images-heading"') : page.index('id="findings-heading"')]
    # Most critical first, then most high: api's latest scan has one high finding left.
    names = re.findall(r"<code title=\"[^\"]*\">([^<]+)</code>", section)
    assert names == [f"registry.example.com/{name}:1.0" for name in ("web", "db", "old", "api", "cache")]
    findings = page[page.index('id="findings-heading"') : page.index('id="failed-heading"')]
    assert re.findall(r"<td><code>([^<]+)</code></td>", findings)[:2] == ["CVE-1", "CVE-2"]
    failed = page[page.index('id="failed-heading"') : page.index('id="policies-heading"')]
    assert "SIEM hook" in failed and "SOC mail" in failed
    policies = page[page.index('id="policies-heading"') :]
    assert policies.index("Prod criticals") < policies.index("Staging malware")


def test_signing_in_lands_on_the_overview(client, django_user_model):
    django_user_model.objects.create_superuser("alice", "alice@example.com", "s3cret-pass-9")
    answer = client.post("/login/", {"username": "alice", "password": "s3cret-pass-9"}, follow=True)
    assert answer.redirect_chain[-1][0] == "/overview/"
    page = answer.content.decode()
    assert "<h1>Overview</h1>" in page
    assert 'href="/policies/response/"' in page  # the former home page stays in the navigation


def test_overview_needs_sign_in_and_shows_only_what_the_user_may_view(client, activity):
    assert client.get("/overview/")["Location"].startswith("/login/")

    client.force_login(UserFactory(username="nobody"))
    assert client.get("/overview/").status_code == 403

    client.force_login(UserFactory(username="dev", groups=["Developer"]))  # events, not the delivery log
    page = client.get("/overview/").content.decode()
    assert "Events by severity" in page and "Notifications ·" not in page and "Policies that fired" not in page

    client.force_login(UserFactory(username="auditor", groups=["IS auditor"]))
    page = client.get("/overview/").content.decode()
    assert "Events by severity" in page and "Notifications ·" in page and "Policies that fired most" in page


def test_an_unknown_period_shows_the_last_24_hours(admin_client, activity):
    page = admin_client.get("/overview/?period=1y").content.decode()
    assert 'aria-current="page">Last 24 hours' in page


def test_an_empty_overview_says_there_is_nothing_yet(admin_client):
    page = admin_client.get("/overview/").content.decode()
    assert "<strong>0</strong> events" in page
    assert "No image has open critical or high findings." in page
    assert "No delivery failed for good in the last 24 hours." in page
