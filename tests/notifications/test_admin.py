"""The Django admin for integrations and the delivery log: pages that show what is stored, changes through the
services (one audit entry each), invalid changes refused with their errors."""

from __future__ import annotations

import pytest

from kcs.models import AuditEntry
from notifications.models import Notification, NotificationIntegration
from notifications.secrets import decrypt
from tests.factories import HMAC_SECRET, make_integration, make_policy

pytestmark = pytest.mark.django_db

INTEGRATIONS = "/admin/notifications/notificationintegration/"
SAVED = "was changed successfully"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def change(admin_client, integration, **values):
    data = {"name": integration.name, "enabled": "on" if integration.enabled else "", **values}
    return admin_client.post(f"{INTEGRATIONS}{integration.pk}/change/", data, follow=True)


def test_integration_list_shows_names_and_kind_labels_and_filters_by_kind(admin_client):
    make_integration("teams", "SOC channel")
    make_integration("webhook", "SIEM hook")
    page = admin_client.get(INTEGRATIONS).content.decode()
    assert "SOC channel" in page and "Microsoft Teams" in page and "SIEM hook" in page
    assert "SIEM (syslog CEF)" in page  # every registered kind is offered by the filter
    filtered = admin_client.get(INTEGRATIONS, {"kind": "teams"}).content.decode()
    assert "SOC channel" in filtered and "SIEM hook" not in filtered


def test_integration_change_page_shows_its_settings_but_no_secret(admin_client):
    hook = make_integration("webhook", "SIEM hook")
    page = admin_client.get(f"{INTEGRATIONS}{hook.pk}/change/").content.decode()
    assert "SIEM hook" in page and "https://hooks.example.com/kcs" in page and "Webhook" in page
    assert HMAC_SECRET not in page


def test_renaming_in_the_admin_keeps_the_settings_and_writes_one_audit_entry(admin_client):
    hook = make_integration("webhook", "SIEM hook")
    page = change(admin_client, hook, name="SIEM intake", enabled="").content.decode()
    assert SAVED in page
    hook.refresh_from_db()
    assert hook.name == "SIEM intake" and not hook.enabled
    assert hook.config["url"] == "https://hooks.example.com/kcs" and decrypt(hook.secrets_encrypted) == {
        "hmac_secret": HMAC_SECRET
    }
    entry = AuditEntry.objects.get()
    assert entry.source == "admin" and entry.action == "update"
    assert entry.changes["name"] == ["SIEM hook", "SIEM intake"] and entry.changes["enabled"] == [True, False]
    assert "secrets" not in entry.changes


def test_a_name_taken_ignoring_case_is_refused_with_the_screens_message(admin_client):
    make_integration("webhook", "SIEM hook")
    chat = make_integration("telegram", "On-call chat")
    response = change(admin_client, chat, name="siem HOOK")
    page = response.content.decode()
    assert response.status_code == 200 and SAVED not in page
    assert "An integration with this name already exists." in page
    chat.refresh_from_db()
    assert chat.name == "On-call chat" and not AuditEntry.objects.exists()


def test_stored_settings_that_break_the_rules_are_shown_and_nothing_is_saved(admin_client):
    # Stored before a rule existed (or written around the services): the admin must not report success.
    hook = make_integration("webhook", "Old hook", config={"url": "ftp://files.example.com", "auth": "none"})
    response = change(admin_client, hook, name="Renamed hook")
    page = response.content.decode()
    assert response.status_code == 200 and SAVED not in page
    assert "config › url: Use an http:// or https:// URL. (change it on the Integrations page)" in page
    hook.refresh_from_db()
    assert hook.name == "Old hook" and not AuditEntry.objects.exists()


def test_enable_and_disable_actions_log_one_entry_per_changed_integration(admin_client):
    on, off = make_integration("webhook", "On"), make_integration("slack", "Off", enabled=False)
    page = admin_client.post(
        INTEGRATIONS, {"action": "disable", "_selected_action": [on.pk, off.pk]}, follow=True
    ).content.decode()
    assert "1 integration(s) disabled." in page
    assert list(AuditEntry.objects.values_list("action", "object_repr", "source")) == [("disable", "On", "admin")]
    admin_client.post(INTEGRATIONS, {"action": "enable", "_selected_action": [on.pk, off.pk]})
    assert NotificationIntegration.objects.filter(enabled=True).count() == 2
    assert AuditEntry.objects.filter(action="enable").count() == 2


def test_deleting_an_integration_in_use_is_refused_naming_the_policy(admin_client):
    hook = make_integration("webhook", "SIEM hook")
    make_policy("Prod criticals", [hook])
    page = admin_client.post(f"{INTEGRATIONS}{hook.pk}/delete/", {"post": "yes"}).content.decode()
    assert "used by the response policy “Prod criticals”" in page
    assert NotificationIntegration.objects.filter(pk=hook.pk).exists() and not AuditEntry.objects.exists()


def test_deleting_an_unused_integration_writes_one_audit_entry(admin_client):
    hook = make_integration("webhook", "Old hook")
    admin_client.post(f"{INTEGRATIONS}{hook.pk}/delete/", {"post": "yes"})
    assert not NotificationIntegration.objects.exists()
    entry = AuditEntry.objects.get()
    assert entry.action == "delete" and entry.source == "admin" and entry.object_repr == "Old hook"


def test_delivery_log_list_shows_policy_and_integration_names(admin_client):
    hook = make_integration("webhook", "SIEM hook")
    Notification.objects.create(
        policy_name="Prod criticals", integration=hook, integration_name=hook.name, idempotency_key="k1"
    )
    page = admin_client.get("/admin/notifications/notification/").content.decode()
    assert "Prod criticals" in page and "SIEM hook" in page


def test_a_stored_message_template_that_fails_is_refused_in_the_admin_with_its_line(admin_client):
    chat = make_integration(
        "telegram", "Old chat", config={"chat_id": "-1", "message_template": "ok\n{{ integration.secrets_encrypted }}"}
    )
    response = change(admin_client, chat, name="Renamed chat")
    page = response.content.decode()
    assert response.status_code == 200 and SAVED not in page
    assert "config › message_template: Line 2: Unknown variable: integration." in page
    chat.refresh_from_db()
    assert chat.name == "Old chat" and not AuditEntry.objects.exists()
