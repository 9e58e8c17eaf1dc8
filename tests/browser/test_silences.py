"""Silences in headless Chromium: *Silence similar…* from an event page, preview (htmx), save, see it listed."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from policies.models import Silence
from tests.factories import PASSWORD, SecurityEventFactory, UserFactory
from tests.helpers import login


@pytest.mark.django_db(transaction=True)
def test_officer_silences_similar_events_from_an_event_page(page):
    UserFactory(username="officer", groups=["Security officer"])
    event = SecurityEventFactory(finding_id="CVE-2026-4242", repository="shop/web", cluster="prod-eu")
    login(page, "officer", PASSWORD)
    page.goto(f"/events/{event.pk}/")

    page.get_by_role("link", name="Silence similar…").click()
    expect(page.get_by_role("heading", name="Add silence")).to_be_visible()
    expect(page.locator("#id_finding_id")).to_have_value("CVE-2026-4242")
    expect(page.locator("#id_repository")).to_have_value("shop/web")
    page.fill("#id_cluster", "prod-*")
    page.fill("#id_comment", "Patched image ships on Friday")

    page.get_by_role("button", name="Preview").click()  # htmx swaps the preview section in place
    expect(page.locator("#silence-preview [data-figure=events]")).to_have_text("1")
    assert not Silence.objects.exists()

    page.get_by_role("button", name="Create silence").click()
    expect(page.get_by_role("status")).to_contain_text("created.")
    silence = Silence.objects.get()
    assert silence.matchers["cluster"] == "prod-*" and silence.matchers["finding_id"] == "CVE-2026-4242"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Silences").click()
    row = page.locator("tbody tr", has_text="Patched image ships on Friday")
    expect(row).to_contain_text("CVE-2026-4242")
    expect(row).to_contain_text("Active")
