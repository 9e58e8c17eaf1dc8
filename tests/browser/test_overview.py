"""The Overview in Chromium: its SVG charts render, link to their lists, and the page works without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from notifications.models import NotificationStatus
from tests.factories import (
    PASSWORD,
    NotificationFactory,
    UserFactory,
    finding,
    ingest_at,
    make_integration,
    make_policy,
)
from tests.helpers import login


@pytest.fixture
def activity(transactional_db):
    now = timezone.now()
    ingest_at(
        now - timedelta(minutes=5),
        [
            finding(repository="web", finding_id=f"CVE-{n}", severity=s, uid=f"w{n}")
            for n, s in enumerate(["critical", "high", "low"])
        ],
    )
    ingest_at(now - timedelta(hours=3), [finding(repository="api", finding_id="CVE-0", severity="critical", uid="a")])
    output = make_integration("webhook", "SIEM hook")
    policy = make_policy("Prod criticals", [output])
    for status in (NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.SUPPRESSED):
        NotificationFactory(policy=policy, policy_name=policy.name, integration=output, status=status, events=[])
    UserFactory(username="officer", groups=["IS officer"])


def test_overview_draws_its_charts_and_each_bar_opens_its_list(page, activity):
    login(page, "officer", PASSWORD)
    expect(page.locator("h1")).to_have_text("Overview")  # where signing in lands

    events_chart = page.locator("svg[aria-labelledby^='events-chart']")
    expect(events_chart).to_be_visible()
    box = events_chart.bounding_box()
    assert box["width"] > 400 and box["height"] > 100
    # 4 events now: critical 2 (two time slots), high 1, low 1 — drawn as coloured rectangles.
    bars = events_chart.locator("rect")
    assert bars.count() == 4
    for index in range(bars.count()):
        bar = bars.nth(index)
        assert bar.bounding_box()["height"] > 0
        fill = bar.evaluate("element => getComputedStyle(element).fill")
        assert fill not in ("", "none", "rgb(0, 0, 0)"), fill  # coloured by the stylesheet
    expect(page.locator("svg[aria-labelledby^='notifications-chart'] rect")).to_have_count(3)
    expect(page.locator("svg[aria-labelledby^='images-chart'] rect")).to_have_count(2)
    expect(page.locator("svg[aria-labelledby^='findings-chart'] rect")).to_have_count(3)
    expect(page.locator("svg[aria-labelledby^='policies-chart'] rect")).to_have_count(1)
    expect(page.locator("#events-chart-title")).to_have_text("Events by severity, Last 24 hours")

    # A bar is a link to the list it counts.
    page.locator("svg[aria-labelledby^='images-chart'] a").first.click()
    page.wait_for_load_state()
    assert "/images/" in page.url and "min_severity=high" in page.url
    expect(page.locator("table.findings-table tbody tr")).to_have_count(2)


def test_overview_reads_without_javascript(browser, live_server, activity):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, "officer", PASSWORD)
        page.get_by_role("link", name="Last 7 days").click()
        expect(page.get_by_role("link", name="Last 7 days")).to_have_attribute("aria-current", "page")
        expect(page.locator(".figure-totals").first).to_contain_text("4 events")
        expect(page.locator("svg[aria-labelledby^='events-chart'] rect").first).to_be_visible()
        page.locator("summary", has_text="Numbers per time slot").first.click()  # <details> opens without script
        expect(page.locator("details table").first).to_be_visible()
    finally:
        context.close()
