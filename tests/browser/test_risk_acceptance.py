"""Risk acceptance in headless Chromium: an officer accepts a finding from the event page, finds it under
Policies → Risk acceptance, and cancels it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from events.models import RiskAcceptance
from tests.factories import PASSWORD, SecurityEventFactory, UserFactory
from tests.helpers import login


@pytest.mark.django_db(transaction=True)
def test_officer_accepts_from_the_event_page_finds_it_under_risk_acceptance_and_cancels_it(page):
    UserFactory(username="officer", groups=["Security officer"])
    event = SecurityEventFactory(title="openssl: buffer overflow", finding_id="CVE-2024-3333")
    login(page, "officer", PASSWORD)
    page.goto(f"/events/{event.pk}/")

    card = page.locator("#risk-acceptance")
    expect(card).to_contain_text("Not accepted")
    card.locator("summary", has_text="Accept risk").click()
    card.get_by_label("Every image of the repository").check()
    card.get_by_label("Reason").fill("Not reachable: the parser is never fed untrusted input")
    card.get_by_label("Period").select_option("90")
    card.get_by_role("button", name="Accept risk").click()

    expect(page.get_by_role("status")).to_contain_text("Risk accepted (1 new)")
    expect(page.locator("#risk-acceptance")).to_contain_text("Accepted until")
    page.goto("/events/")
    expect(page.locator(f"#event-{event.pk}")).to_contain_text("Accepted until")

    page.get_by_role("link", name="Risk acceptance", exact=True).click()
    row = page.locator("tr.acceptance-row", has_text="CVE-2024-3333")
    expect(row).to_contain_text("Every image of the repository")
    expect(row).to_contain_text("Not reachable")
    expect(row).to_contain_text("officer")
    expect(row).to_contain_text("Active")

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Cancel the acceptance of CVE-2024-3333").click()
    expect(page.get_by_role("status")).to_contain_text("cancelled: its findings notify again")
    expect(page.locator("dl.details")).to_contain_text("Cancelled")
    page.get_by_role("link", name="Risk acceptance", exact=True).first.click()
    expect(page.locator("tr.acceptance-row", has_text="CVE-2024-3333")).to_contain_text("Cancelled by officer")
    assert RiskAcceptance.objects.get().cancelled_by_name == "officer"
    page.goto(f"/events/{event.pk}/")
    expect(page.locator("#risk-acceptance")).to_contain_text("Not accepted")
