"""Response policies in headless Chromium: the officer's whole round trip, the read-only auditor, no-JS use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from events.models import Severity
from policies.models import ResponsePolicy
from tests.factories import PASSWORD, NotificationIntegrationFactory, ResponsePolicyFactory, UserFactory, make_batch
from tests.helpers import login


def existing_policy(name: str, integration) -> ResponsePolicy:
    return ResponsePolicyFactory(name=name, trigger="malware", methods=[integration])


@pytest.fixture
def outputs(transactional_db):
    return (
        NotificationIntegrationFactory(name="SOC mailbox", kind="email"),
        NotificationIntegrationFactory(name="On-call chat", kind="telegram"),
    )


@pytest.mark.django_db(transaction=True)
def test_officer_adds_finds_disables_edits_and_deletes_a_policy(page, outputs):
    UserFactory(username="officer", groups=["IS officer"])
    existing_policy("Staging malware", outputs[0])
    login(page, "officer", PASSWORD)
    page.goto("/policies/response/")

    page.get_by_role("link", name="Add policy").click()
    page.fill("#id_name", "Prod critical CVEs")
    page.select_option("#id_trigger", "critical_vulnerabilities")
    page.select_option("#id_min_severity", "4")
    expect(page.get_by_label("Global (every resource)")).to_be_checked()
    page.select_option("#id_methods-0-kind", "email")
    page.select_option("#id_methods-0-integration", label="SOC mailbox")
    page.get_by_role("button", name="+ Add output").click()
    page.select_option("#id_methods-1-kind", "telegram")
    # Only the integrations of the chosen type are offered.
    expect(page.locator("#id_methods-1-integration option[data-kind=email]")).to_be_disabled()
    page.select_option("#id_methods-1-integration", label="On-call chat")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy “Prod critical CVEs” created.")
    row = page.locator("tr.policy-row", has_text="Prod critical CVEs")
    expect(row).to_contain_text("SOC mailbox")
    expect(row).to_contain_text("On-call chat")

    page.fill("#policy-search", "critical")
    expect(page.locator("tr.policy-row")).to_have_count(1)
    expect(page.locator("tr.policy-row")).to_contain_text("Prod critical CVEs")
    assert "q=critical" in page.url

    row.get_by_role("switch").click()
    expect(row.get_by_role("switch")).to_have_attribute("aria-checked", "false")
    page.reload()
    row = page.locator("tr.policy-row", has_text="Prod critical CVEs")
    expect(row).to_have_class("policy-row disabled")
    expect(row.get_by_role("switch")).to_contain_text("Disabled")

    row.get_by_role("link", name="Prod critical CVEs", exact=True).click()
    page.fill("#id_description", "Page the on-call engineer")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    expect(page.locator("tr.policy-row", has_text="Prod critical CVEs")).to_contain_text("Page the on-call engineer")

    page.locator("tr.policy-row", has_text="Prod critical CVEs").get_by_role("link", name="Delete").click()
    expect(page.locator("h2")).to_contain_text("Delete the policy “Prod critical CVEs”?")
    page.get_by_role("button", name="Delete policy").click()
    expect(page.get_by_role("status")).to_contain_text("deleted")
    expect(page.locator("tr.policy-row", has_text="Prod critical CVEs")).to_have_count(0)

    page.get_by_role("link", name="Security event log").click()
    table = page.locator("table.audit-table")
    for action in ("Created", "Disabled", "Changed", "Deleted"):
        expect(table.locator("tr", has_text="Prod critical CVEs").filter(has_text=action)).not_to_have_count(0)
    expect(table).to_contain_text("officer")


@pytest.mark.django_db(transaction=True)
def test_auditor_sees_policies_without_controls(page, outputs):
    UserFactory(username="auditor", groups=["IS auditor"])
    existing_policy("Staging malware", outputs[0])
    login(page, "auditor", PASSWORD)
    page.goto("/policies/response/")
    expect(page.locator("tr.policy-row")).to_contain_text("Staging malware")
    expect(page.get_by_role("link", name="Add policy")).to_have_count(0)
    expect(page.get_by_role("switch")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    page.get_by_role("link", name="Staging malware").click()
    expect(page.locator("form.policy-form")).to_have_count(0)
    expect(page.locator("dl.details")).to_contain_text("SOC mailbox")


@pytest.mark.django_db(transaction=True)
def test_policy_form_and_toggle_work_without_javascript(browser, live_server, outputs):
    UserFactory(username="officer", groups=["IS officer"])
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        login(page, "officer", PASSWORD)
        page.goto("/policies/response/add/")
        page.fill("#id_name", "No-JS policy")
        page.select_option("#id_trigger", "malware")
        page.select_option("#id_methods-0-kind", "telegram")
        page.select_option("#id_methods-0-integration", label="On-call chat")
        page.get_by_role("button", name="Create policy").click()
        row = page.locator("tr.policy-row", has_text="No-JS policy")
        expect(row).to_contain_text("On-call chat")
        row.get_by_role("switch").click()
        expect(page.get_by_role("status")).to_contain_text("disabled")
        assert not ResponsePolicy.objects.get(name="No-JS policy").enabled
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_preview_on_the_form_shows_what_the_draft_would_have_done(page, outputs):
    """Three stored critical CVEs of the last days and one low one: the draft for criticals matches three, sends
    one message per output and batch, lists them among the worst, and nothing is saved."""
    UserFactory(username="officer", groups=["IS officer"])
    make_batch(3, severity=Severity.CRITICAL, received_at=timezone.now() - timedelta(days=2))
    make_batch(1, severity=Severity.LOW, received_at=timezone.now() - timedelta(days=1))
    login(page, "officer", PASSWORD)
    page.goto("/policies/response/add/")
    page.fill("#id_name", "Criticals, dry run")
    page.select_option("#id_trigger", "critical_vulnerabilities")
    page.select_option("#id_min_severity", "4")
    page.select_option("#id_methods-0-kind", "email")
    page.select_option("#id_methods-0-integration", label="SOC mailbox")
    page.select_option("#id_preview_days", "7")
    page.get_by_role("button", name="Preview").click()
    results = page.locator(".preview-results")
    expect(results.locator('[data-figure="events_matched"]')).to_have_text("3")
    expect(results.locator('[data-figure="notifications"]')).to_have_text("1")
    expect(results.locator(".worst-events li")).to_have_count(3)
    assert not ResponsePolicy.objects.filter(name="Criticals, dry run").exists()
