"""An integration's message template in headless Chromium: the preview follows the typing (htmx), and the admin's
row switch flips a policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kcs.models import AuditEntry
from notifications.models import NotificationIntegration
from policies.models import ResponsePolicy
from tests.factories import PASSWORD, NotificationIntegrationFactory, ResponsePolicyFactory, UserFactory
from tests.helpers import login


@pytest.mark.django_db(transaction=True)
def test_the_preview_follows_the_template_as_it_is_typed(page):
    UserFactory(username="admin", superuser=True)
    login(page, "admin", PASSWORD)
    page.goto("/integrations/slack/add/")
    page.fill("#id_name", "Chat")
    page.fill("#id_message_template", "*{{ policy_name }}* has {{ total }} findings")
    preview = page.locator("#template-preview")
    expect(preview).to_contain_text("*Sample policy* has 2 findings")
    page.fill("#id_message_template", "{{ nope }}")
    expect(preview).to_contain_text("Message template: Line 1: Unknown variable: nope.")
    assert not NotificationIntegration.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_admin_row_switch_disables_a_policy(page):
    UserFactory(username="admin", superuser=True)
    mail = NotificationIntegrationFactory(name="SOC mailbox", kind="email")
    policy = ResponsePolicyFactory(name="Nightly malware", trigger="malware", methods=[mail])
    page.goto("/admin/login/?next=/admin/policies/responsepolicy/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Disable Nightly malware").click()
    expect(page.locator(".messagelist")).to_contain_text("Policy “Nightly malware” disabled.")
    expect(page.get_by_role("button", name="Enable Nightly malware")).to_be_visible()
    policy.refresh_from_db()
    assert policy.enabled is False
    assert AuditEntry.objects.filter(action="disable", source="admin", object_id=str(policy.pk)).exists()
    assert ResponsePolicy.objects.filter(enabled=True).count() == 0
