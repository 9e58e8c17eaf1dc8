"""Response policies in headless Chromium: the officer's whole round trip, the read-only auditor, no-JS use."""

from __future__ import annotations

import importlib

import pytest
from django.contrib.auth.models import Group, Permission
from playwright.sync_api import expect

from notifications.models import NotificationIntegration
from policies.models import NotificationMethod, ResponsePolicy, Scope
from tests.browser.conftest import login

PASSWORD = "pw-browser-123"


def person(django_user_model, username: str, group: str):
    user = django_user_model.objects.create_user(username, f"{username}@example.com", PASSWORD)
    user.groups.add(Group.objects.get(name=group))
    return user


def existing_policy(name: str, integration) -> ResponsePolicy:
    policy = ResponsePolicy.objects.create(name=name, trigger="malware")
    policy.scopes.set([Scope.objects.get(is_global=True)])
    NotificationMethod.objects.create(policy=policy, integration=integration)
    return policy


@pytest.fixture(autouse=True)
def seeded(transactional_db):
    """What the data migrations create: a transactional test's flush removed it (permissions come back)."""
    Scope.objects.get_or_create(is_global=True, defaults={"name": "Global"})
    for name, codenames in importlib.import_module("policies.migrations.0003_seed_groups").GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


@pytest.fixture
def outputs(seeded):
    return (
        NotificationIntegration.objects.create(name="SOC mailbox", kind="email"),
        NotificationIntegration.objects.create(name="On-call chat", kind="telegram"),
    )


@pytest.mark.django_db(transaction=True)
def test_officer_adds_finds_disables_edits_and_deletes_a_policy(page, django_user_model, outputs):
    person(django_user_model, "officer", "Security officer")
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
def test_auditor_sees_policies_without_controls(page, django_user_model, outputs):
    person(django_user_model, "auditor", "Auditor")
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
def test_policy_form_and_toggle_work_without_javascript(browser, live_server, django_user_model, outputs):
    person(django_user_model, "officer", "Security officer")
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
